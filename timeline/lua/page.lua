-- One page of a timeline, newest first (or oldest first), with exact bounds.
-- KEYS[1] the sorted set, KEYS[2] its meta hash. ARGV[1] max_id (exclusive; "" = none),
-- ARGV[2] since_id (exclusive; "" = none), both 19-digit zero-padded, ARGV[3] limit,
-- ARGV[4] "asc" for the oldest first (Mastodon's min_id), ARGV[5] TTL in seconds (a read keeps
-- the feed alive).
-- Returns {state, floor, member...}; state is "ready", or "missing", "building", "damaged"
-- (no members: the caller rebuilds or reads PostgreSQL). Entries with an id at or below floor
-- may be missing here (the feed is a window of the newest): the caller reads those from
-- PostgreSQL.
-- Scores are doubles, exact to 53 bits only: the score range is a superset, and the bounds are
-- applied exactly on the members' padded ids (string order is numeric order).
local meta = redis.call('HMGET', KEYS[2], 'state', 'count', 'floor')
if not meta[1] then
  return {'missing'}
end
if meta[1] ~= 'ready' then
  return {meta[1]}
end
if tonumber(meta[2]) ~= redis.call('ZCARD', KEYS[1]) then
  return {'damaged'}
end
local ttl = tonumber(ARGV[5])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
local floor = meta[3]
local maxp, since, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local low = floor
if since ~= '' and since > low then
  low = since
end
local hi = maxp == '' and '+inf' or maxp
local out = {'ready', floor}
local batch = limit + 8
local offset = 0
while true do
  local rows
  if ARGV[4] == 'asc' then
    rows = redis.call('ZRANGEBYSCORE', KEYS[1], low, hi, 'LIMIT', offset, batch)
  else
    rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], hi, low, 'LIMIT', offset, batch)
  end
  for _, m in ipairs(rows) do
    local id = string.sub(m, 1, 19)
    if (maxp == '' or id < maxp) and id > low then
      out[#out + 1] = m
      if #out - 2 == limit then
        return out
      end
    end
  end
  if #rows < batch then
    return out
  end
  offset = offset + batch
end
