-- Fixed window: one counter per window aligned to the epoch. Cheapest, and lets up to
-- 2 x limit through across a boundary (`limit` at the end of one window, `limit` again at the
-- start of the next); tests/ratelimit/test_accuracy.py demonstrates it.
--
-- KEYS: 1 hash {w = index of the window, c = its count}
-- ARGV: 1 limit   2 window (us)   3 cost
-- Returns {allowed 0|1, remaining, reset_after ms, retry_after ms}. Time: Redis's (TIME).
--
-- The window index is stored, not left to key expiry: Redis expires a key when its clock is
-- strictly past the deadline, so a request in the boundary millisecond could see the old count.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local idx = math.floor(now / window)
local window_end = (idx + 1) * window

local state = redis.call('HMGET', KEYS[1], 'w', 'c')
local count = 0
if tonumber(state[1]) == idx then
  count = tonumber(state[2])
end

local reset_ms = math.ceil((window_end - now) / 1000)
if count + cost > limit then
  return {0, math.max(0, limit - count), reset_ms, reset_ms}
end
count = count + cost
redis.call('HSET', KEYS[1], 'w', string.format('%d', idx), 'c', count)
redis.call('PEXPIRE', KEYS[1], reset_ms + 1)
return {1, limit - count, reset_ms, 0}
