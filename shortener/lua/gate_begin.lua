-- Start initialising a max-clicks gate: take the gate lease, and read what Redis holds of the
-- link's clicks (pending + open batches) in the same atomic step. The caller then reads
-- PostgreSQL and calls gate_set.lua. The lease fences a stale initialisation exactly like the
-- fill lease fences a stale fill: invalidate_link deletes it, so a caller that read max_clicks
-- before an update committed cannot install a gate computed from the old value.
--
-- KEYS: 1 gate lease   2 gate   3 pending counters   4 set of open batches
-- ARGV: 1 token   2 lease TTL (ms)   3 hash field ("c:<link id>")
-- Returns {1, clicks in Redis} with the lease, {0} if the gate exists or another caller holds
-- the lease (it will be there in a moment).

if redis.call('EXISTS', KEYS[2]) == 1 then
  return {0}
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0}
end
local held = tonumber(redis.call('HGET', KEYS[3], ARGV[3])) or 0
for _, batch in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  held = held + (tonumber(redis.call('HGET', batch, ARGV[3])) or 0)
end
return {1, held}
