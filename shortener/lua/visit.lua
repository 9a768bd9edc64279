-- One visit to a short link, in one round trip (EVALSHA): read the cached link, apply the state
-- rules and the max-clicks gate, count the click and append its event. Atomic, so the gate is
-- exact under any concurrency. See shortener/cache/__init__.py for the key layout.
--
-- KEYS: 1 link entry (hash)   2 gate (remaining clicks)   3 pending counters (hash)
--       4 events (stream)     5 fill lease
-- ARGV: 1 now (unix ms)       2 "count" to count a visit, "peek" not to (HEAD)
--       3 "1" when the password was checked by the caller      4 "1" for a bot
--       5 referrer host       6 device class       7 stream MAXLEN (approximate)
--       8 lease token, "" to take no lease on a miss           9 lease TTL (ms)
--      10 "inline" to use ARGV 11..17 as the link instead of reading KEYS[1] (the caller has
--         just read it from PostgreSQL); absent otherwise
--      11..17 id, url, type, exp, pw, off, max (the fields of the link entry, same encoding)
--      18 with "inline": the entry's TTL (seconds) to also fill KEYS[1] with that copy if the
--         fill lease (KEYS[5]) still holds ARGV[8], as fill.lua would: the miss's fill and its
--         visit in one round trip; absent not to fill
--
-- Returns {state} or {"ok", id, url, type}. state is one of:
--   "miss" (+ "1" if the lease was taken, else "0"), "none" (negative entry), "disabled",
--   "expired", "exhausted", "password" (checked after the gate: a used-up link says so before
--   asking for a password), "gate" (+ id: a max-clicks link whose gate is not initialised;
--   the caller initialises it from PostgreSQL and calls again).

local f
if ARGV[10] == 'inline' then
  f = {ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15], ARGV[16], ARGV[17]}
  if ARGV[18] and ARGV[8] ~= '' and redis.call('GET', KEYS[5]) == ARGV[8] then
    redis.call('DEL', KEYS[5], KEYS[1])
    redis.call('HSET', KEYS[1], 'id', f[1], 'url', f[2], 'type', f[3], 'exp', f[4], 'pw', f[5],
                'off', f[6], 'max', f[7])
    redis.call('EXPIRE', KEYS[1], ARGV[18])
  end
else
  f = redis.call('HMGET', KEYS[1], 'id', 'url', 'type', 'exp', 'pw', 'off', 'max')
end

local id = f[1]
if not id then
  if ARGV[8] ~= '' and redis.call('SET', KEYS[5], ARGV[8], 'NX', 'PX', ARGV[9]) then
    return {'miss', '1'}
  end
  return {'miss', '0'}
end
if id == '0' then
  return {'none'}
end
if f[6] == '1' then
  return {'disabled'}
end
if f[4] ~= '' and tonumber(f[4]) <= tonumber(ARGV[1]) then
  return {'expired'}
end
local count = ARGV[2] == 'count'
local bot = ARGV[4] == '1'
local gated = f[7] ~= ''
if gated then
  local left = redis.call('GET', KEYS[2])
  if not left then
    return {'gate', id}
  end
  if tonumber(left) <= 0 then
    return {'exhausted'}
  end
end
if f[5] == '1' and ARGV[3] ~= '1' then
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
return {'ok', id, f[2], f[3]}
