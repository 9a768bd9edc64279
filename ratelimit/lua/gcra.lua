-- GCRA (generic cell rate algorithm, as in redis-cell and Stripe's limiter): one timestamp per
-- key, the theoretical arrival time (TAT) of the next request if the client sent at exactly the
-- allowed rate. Equivalent to a token bucket of `capacity` tokens refilled at limit/window, in a
-- single string instead of a two-field hash.
--
-- KEYS: 1 string: TAT (us, float)
-- ARGV: 1 limit   2 window (us)   3 capacity (burst)   4 cost
-- Returns {allowed 0|1, remaining, reset_after ms, retry_after ms}. Time: Redis's (TIME).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local capacity, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local interval = window / limit -- emission interval T (us)
local tolerance = capacity * interval -- how far ahead of now the TAT may run (burst)

local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local new_tat = tat + cost * interval
local allow_at = new_tat - tolerance

if now < allow_at then
  local remaining = math.max(0, math.floor((tolerance - (tat - now)) / interval))
  return {0, remaining, math.ceil((tat - now) / 1000), math.ceil((allow_at - now) / 1000)}
end

redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
local remaining = math.max(0, math.floor((tolerance - (new_tat - now)) / interval))
return {1, remaining, math.ceil((new_tat - now) / 1000), 0}
