-- Sliding window counter (Cloudflare's): two fixed-window counts, the current window's and the
-- previous one's, and an estimate of the sliding window that weights the previous count by the
-- part of it the sliding window still overlaps:
--
--     estimate = previous * (window - elapsed) / window + current
--
-- (The seed writes `previous * elapsed / window`: the weight backwards. At elapsed = 0 the
-- sliding window is entirely the previous window, so its weight must be 1, not 0.)
-- Approximate: it assumes the previous window's requests were spread evenly. docs/ratelimit.md
-- states the bound; tests/ratelimit/test_accuracy.py asserts it.
--
-- KEYS: 1 hash {w = index of the current window, c = its count, p = the previous window's}
-- ARGV: 1 limit   2 window (us)   3 cost
-- Returns {allowed 0|1, remaining, reset_after ms, retry_after ms}. Time: Redis's (TIME).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local idx = math.floor(now / window)
local elapsed = now - idx * window

local state = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local w = tonumber(state[1])
local cur, prev = 0, 0
if w == idx then
  cur, prev = tonumber(state[2]), tonumber(state[3])
elseif w == idx - 1 then
  prev = tonumber(state[2])
elseif w ~= nil and w > idx then
  -- Redis's clock stepped back (a failover to a replica with another clock): keep the newer
  -- state rather than forget it, which would admit a fresh burst.
  idx, elapsed = w, 0
  cur, prev = tonumber(state[2]), tonumber(state[3])
end

local weight = (window - elapsed) / window
local estimate = prev * weight + cur

if estimate + cost > limit then
  local retry
  if cur + cost <= limit and prev > 0 then
    -- Later in this window the previous count weighs less: solve prev*(window-e)/window +
    -- cur + cost = limit for e.
    retry = window * (1 - (limit - cur - cost) / prev) - elapsed
  else
    -- Not in this window: in the next one `cur` becomes the previous count.
    retry = window - elapsed
    if cur > 0 and limit - cost < cur then
      retry = retry + window * (1 - (limit - cost) / cur)
    end
  end
  local reset = window - elapsed
  if cur > 0 then
    reset = reset + window
  end
  return {0, math.max(0, math.floor(limit - estimate)), math.ceil(reset / 1000), math.ceil(math.max(retry, 1) / 1000)}
end

cur = cur + cost
redis.call('HSET', KEYS[1], 'w', string.format('%d', idx), 'c', cur, 'p', prev)
-- Needed until the end of the next window, where this window's count still weighs in.
redis.call('PEXPIRE', KEYS[1], math.ceil((2 * window - elapsed) / 1000) + 1)
return {1, math.max(0, math.floor(limit - (prev * weight + cur))), math.ceil((2 * window - elapsed) / 1000), 0}
