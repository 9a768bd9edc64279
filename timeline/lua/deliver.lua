-- Insert entries into one timeline (a home feed or an author's posts) and trim it, atomically.
-- KEYS[1] the sorted set, KEYS[2] its meta hash {state, count, floor}.
-- ARGV[1] max entries, ARGV[2] floor to raise to ("" = none), then score, member pairs.
-- A member is the 19-digit zero-padded tweet id, ':' and the author id; its score is the id.
-- Returns the number of entries added, or -1 when the timeline does not exist: it is not
-- created here (a feed made of one delivery would look complete and hide every older tweet);
-- the next read rebuilds it from PostgreSQL, this tweet included.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
local added = 0
for i = 3, #ARGV, 2 do
  added = added + redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
local floor = redis.call('HGET', KEYS[2], 'floor') or '0000000000000000000'
if ARGV[2] ~= '' and ARGV[2] > floor then
  floor = ARGV[2]
end
-- count is kept by these scripts only: a member removed any other way makes it differ from
-- ZCARD, and page.lua then reports the feed damaged (a hole) instead of paging over it.
local count = tonumber(redis.call('HGET', KEYS[2], 'count') or '0') + added
local max = tonumber(ARGV[1])
if count > max then
  local cut = redis.call('ZRANGE', KEYS[1], 0, count - max - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, count - max - 1)
  local top = string.sub(cut[#cut], 1, 19)
  if top > floor then
    floor = top
  end
  count = max
end
redis.call('HSET', KEYS[2], 'count', count, 'floor', floor)
return added
