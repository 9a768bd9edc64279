-- Sliding window log: one sorted-set member per admitted request, scored by its time. Exact:
-- never more than `limit` admissions in any half-open interval of `window`; memory grows with
-- the limit (one member per admission still in the window).
--
-- KEYS: 1 sorted set {member "<us>:<n>" -> score us}
-- ARGV: 1 limit   2 window (us)   3 cost
-- Returns {allowed 0|1, remaining, reset_after ms, retry_after ms}. Time: Redis's (TIME).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

-- An entry admitted at s counts in (now - window, now]; at s <= now - window it has left.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
local count = redis.call('ZCARD', KEYS[1])

if count + cost > limit then
  -- Room for `cost` more once the (count + cost - limit)-th oldest entry has left.
  local i = count + cost - limit - 1
  local entry = redis.call('ZRANGE', KEYS[1], i, i, 'WITHSCORES')
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  local retry = window
  if entry[2] then
    retry = tonumber(entry[2]) + window - now
  end
  local reset = window
  if newest[2] then
    reset = tonumber(newest[2]) + window - now
  end
  return {0, math.max(0, limit - count), math.ceil(reset / 1000), math.ceil(retry / 1000)}
end

local score = string.format('%d', now)
local n = 0
for _ = 1, cost do
  -- Members must be unique: two admissions in one microsecond get different suffixes.
  repeat
    n = n + 1
  until redis.call('ZADD', KEYS[1], 'NX', score, score .. ':' .. n) == 1
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1)
return {1, limit - count - cost, math.ceil(window / 1000), 0}
