-- Rebuild one timeline from PostgreSQL, in two calls around the database read.
-- ARGV[1] "begin": empty it and mark it building, before the read: a tweet delivered from now
-- on is kept (deliver.lua adds to a building timeline), so a delivery racing the rebuild is
-- not lost. ARGV[2] the TTL of a building timeline (a rebuilder that died leaves no trace).
-- ARGV[1] "fill": ARGV[2] max entries, ARGV[3] floor, ARGV[4] TTL, then score, member pairs:
-- add what the read found, trim, mark ready. Returns 1, or 0 if the timeline is no longer
-- building (dropped meanwhile): then nothing is written.
-- KEYS[1] the sorted set, KEYS[2] its meta hash.
if ARGV[1] == 'begin' then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'state', 'building', 'count', 0, 'floor', '0000000000000000000')
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
  return 1
end
if redis.call('HGET', KEYS[2], 'state') ~= 'building' then
  return 0
end
local added = 0
for i = 5, #ARGV, 2 do
  added = added + redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
-- A delivery during the build may have raised the floor (a follow's backfill from a window of
-- posts): the higher of the two holds, or the older tweets of that followee would be taken as
-- absent instead of missing.
local floor = ARGV[3]
local raised = redis.call('HGET', KEYS[2], 'floor')
if raised and raised > floor then
  floor = raised
end
local count = tonumber(redis.call('HGET', KEYS[2], 'count')) + added
local max = tonumber(ARGV[2])
if count > max then
  local cut = redis.call('ZRANGE', KEYS[1], 0, count - max - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, count - max - 1)
  local top = string.sub(cut[#cut], 1, 19)
  if top > floor then
    floor = top
  end
  count = max
end
redis.call('HSET', KEYS[2], 'state', 'ready', 'count', count, 'floor', floor)
local ttl = tonumber(ARGV[4])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return 1
