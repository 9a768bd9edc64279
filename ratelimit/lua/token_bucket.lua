-- Token bucket: `capacity` tokens, refilled continuously at `limit` tokens per `window`.
-- One hash per key; the refill is computed lazily from the time of the last admission.
--
-- KEYS: 1 hash {tk = tokens left (float), ts = time of the last admission (us)}
-- ARGV: 1 limit   2 window (us)   3 capacity (burst)   4 cost
-- Returns {allowed 0|1, remaining, reset_after ms, retry_after ms}.
--
-- Time is Redis's (TIME), never the caller's: app servers with skewed clocks share one clock.
-- Redis >= 5 replicates a script by its effects, so a non-deterministic TIME is allowed.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local capacity, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local interval = window / limit -- us per token

local tokens = capacity
local state = redis.call('HMGET', KEYS[1], 'tk', 'ts')
if state[1] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  tokens = math.min(capacity, tonumber(state[1]) + elapsed / interval)
end

if tokens < cost then
  -- Refused: nothing written (a refused request must not push the refill back).
  local full_in = (capacity - tokens) * interval
  return {0, math.floor(tokens), math.ceil(full_in / 1000), math.ceil((cost - tokens) * interval / 1000)}
end

tokens = tokens - cost
local full_in = (capacity - tokens) * interval
redis.call('HSET', KEYS[1], 'tk', string.format('%.17g', tokens), 'ts', string.format('%d', now))
-- Gone once full again: an absent key and a full bucket are the same state.
redis.call('PEXPIRE', KEYS[1], math.ceil(full_in / 1000) + 1)
return {1, math.floor(tokens), math.ceil(full_in / 1000), 0}
