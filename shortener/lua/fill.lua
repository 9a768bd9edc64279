-- Fill the cache after a miss, only if the fill lease is still ours (Facebook's memcache
-- leases): an invalidation since we took it deleted the lease, so our copy may be stale.
--
-- KEYS: 1 lease   2 link entry
-- ARGV: 1 our lease token   2 TTL (seconds)   3 the entry (CachedLink.packed, or "0": negative)
-- Returns 1 if filled, 0 if the lease was gone or someone else's.

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
return 1
