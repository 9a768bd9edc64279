-- Counts recorded in Redis and not yet in PostgreSQL: the pending hash plus every open batch
-- (sealed, maybe being applied right now), read atomically so a concurrent seal cannot make a
-- count vanish from the sum or appear in it twice.
--
-- The batch keys are reached through the set, not passed in KEYS: they carry the slot's hash
-- tag, so in Redis Cluster they live in the same slot as KEYS[1] and the script may touch them.
--
-- KEYS: 1 pending counters   2 set of open batches
-- ARGV: the hash fields to sum ("c:<link id>" clicks, "b:<link id>" bot hits)
-- Returns one integer per field.

local out = {}
local now = redis.call('HMGET', KEYS[1], unpack(ARGV))
for i = 1, #ARGV do
  out[i] = tonumber(now[i]) or 0
end
for _, batch in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local sealed = redis.call('HMGET', batch, unpack(ARGV))
  for i = 1, #ARGV do
    out[i] = out[i] + (tonumber(sealed[i]) or 0)
  end
end
return out
