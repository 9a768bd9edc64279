-- Cache a link just created, right after its COMMIT (shortener.services), so that its first
-- clicks are hits. As safe as fill.lua: the creator took the fill lease after its INSERT and
-- before its COMMIT (cache.reserve_fills), so an invalidation since then (an update committed
-- in between) has deleted the lease; then this only invalidates, as invalidate_link would.
--
-- KEYS: 1 fill lease   2 link entry   3 gate   4 gate lease
-- ARGV: 1 our lease token ("" if we hold none)   2 TTL (seconds)   3.. field, value, ...
-- Returns 1 if it cached the link, 0 if it only invalidated.

local ours = ARGV[1] ~= '' and redis.call('GET', KEYS[1]) == ARGV[1]
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
if not ours then
  return 0
end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
