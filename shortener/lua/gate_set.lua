-- Finish initialising a max-clicks gate, only if our gate lease survived (see gate_begin.lua).
--
-- KEYS: 1 gate lease   2 gate
-- ARGV: 1 token   2 clicks left, or "" to give the lease back without setting   3 TTL (s)
-- Returns 1 if the gate was set, 0 if not (or the lease was lost: an invalidation came).

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if ARGV[2] == '' then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3])
return 1
