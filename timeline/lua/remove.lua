-- Remove entries from one timeline: ARGV[1] "author" and ARGV[2] an author id (an unfollow: all
-- of that author's entries, found by the member's suffix without a database query), or
-- ARGV[1] "members" and the members (a deleted tweet). KEYS[1] the sorted set, KEYS[2] its meta.
-- Returns the number removed, or -1 when the timeline does not exist.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
local removed = 0
if ARGV[1] == 'author' then
  local suffix = ':' .. ARGV[2]
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if string.sub(m, 20) == suffix then
      removed = removed + redis.call('ZREM', KEYS[1], m)
    end
  end
else
  for i = 2, #ARGV do
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
if removed > 0 then
  redis.call('HINCRBY', KEYS[2], 'count', -removed)
end
return removed
