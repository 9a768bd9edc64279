-- Fill the cache after a miss, only if the fill lease is still ours (Facebook's memcache
-- leases): an invalidation since we took it deleted the lease, so our copy may be stale.
--
-- KEYS: 1 lease   2 link entry
-- ARGV: 1 our lease token   2 TTL (seconds)   3.. field, value, field, value, ...
-- Returns 1 if filled, 0 if the lease was gone or someone else's.

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
