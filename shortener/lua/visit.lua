-- One visit to a short link, in one round trip (EVALSHA): read the cached link, apply the state
-- rules and the max-clicks gate, count the click and append its event. Atomic, so the gate is
-- exact under any concurrency. See shortener/cache/__init__.py for the key layout.
--
-- KEYS: 1 link entry (string) 2 gate (remaining clicks)   3 pending counters (hash)
--       4 events (stream)     5 fill lease
-- ARGV: 1 now (unix ms)       2 "count" to count a visit, "peek" not to (HEAD)
--       3 "1" when the password was checked by the caller      4 "1" for a bot
--       5 referrer host       6 device class       7 stream MAXLEN (approximate)
--       8 lease token, "" to take no lease on a miss           9 lease TTL (ms)
--      10 "inline" to use ARGV 11 as the entry instead of reading KEYS[1] (the caller has
--         just read the link from PostgreSQL); absent otherwise
--      11 with "inline": the entry, as cached (CachedLink.packed: id|type|exp|pw|off|max|url)
--      12 with "inline": the entry's TTL (seconds) to also fill KEYS[1] with that copy if the
--         fill lease (KEYS[5]) still holds ARGV[8], as fill.lua would: the miss's fill and its
--         visit in one round trip; absent not to fill
--
-- Returns {state} or {"ok", id, url, type}. state is one of:
--   "miss" (+ "1" if the lease was taken, else "0"), "none" (negative entry), "disabled",
--   "expired", "exhausted", "password" (checked after the gate: a used-up link says so before
--   asking for a password), "gate" (+ id: a max-clicks link whose gate is not initialised;
--   the caller initialises it from PostgreSQL and calls again).

local entry
if ARGV[10] == 'inline' then
  entry = ARGV[11]
  if ARGV[12] and ARGV[8] ~= '' and redis.call('GET', KEYS[5]) == ARGV[8] then
    redis.call('DEL', KEYS[5])
    redis.call('SET', KEYS[1], entry, 'EX', ARGV[12])
  end
else
  entry = redis.call('GET', KEYS[1])
end

if entry == '0' then
  return {'none'}
end
-- id|type|exp|pw|off|max|url: the URL last, whatever it holds.
local id, kind, exp, pw, off, max, url
if entry then
  id, kind, exp, pw, off, max, url = string.match(entry, '^(%d+)|(%d+)|(%d*)|(1?)|(1?)|(%d*)|(.*)$')
end
if not id then
  -- Absent, or not an entry this code can read: a miss, whose fill replaces it.
  if ARGV[8] ~= '' and redis.call('SET', KEYS[5], ARGV[8], 'NX', 'PX', ARGV[9]) then
    return {'miss', '1'}
  end
  return {'miss', '0'}
end
if off == '1' then
  return {'disabled'}
end
if exp ~= '' and tonumber(exp) <= tonumber(ARGV[1]) then
  return {'expired'}
end
local count = ARGV[2] == 'count'
local bot = ARGV[4] == '1'
local gated = max ~= ''
if gated then
  local left = redis.call('GET', KEYS[2])
  if not left then
    return {'gate', id}
  end
  if tonumber(left) <= 0 then
    return {'exhausted'}
  end
end
if pw == '1' and ARGV[3] ~= '1' then
  return {'password'}
end
-- Bots look but do not use up a link: a chat app's preview must not spend a one-time link.
if gated and count and not bot then
  redis.call('DECR', KEYS[2])
end

if count then
  redis.call('HINCRBY', KEYS[3], (bot and 'b:' or 'c:') .. id, 1)
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*',
             'l', id, 'r', ARGV[5], 'd', ARGV[6], 'b', bot and '1' or '0')
end
return {'ok', id, url, kind}
