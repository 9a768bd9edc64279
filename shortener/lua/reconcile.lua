-- After a batch is applied: lower each max-clicks gate to what PostgreSQL says is left, minus
-- what Redis still holds (pending + open batches). Only ever lowers: a gate that is too low
-- refuses a click that was allowed, one that is too high admits one too many, and only the
-- second breaks the promise. A gate that does not exist is left alone (initialised on use).
--
-- KEYS: 1 pending counters   2 set of open batches   3.. gates
-- ARGV: per gate, a pair: hash field ("c:<link id>"), max_clicks - Link.clicks (just committed)
-- Returns how many gates were lowered.

local batches = redis.call('SMEMBERS', KEYS[2])
local lowered = 0
for i = 3, #KEYS do
  local gate = redis.call('GET', KEYS[i])
  if gate then
    local field = ARGV[(i - 3) * 2 + 1]
    local left = tonumber(ARGV[(i - 3) * 2 + 2]) - (tonumber(redis.call('HGET', KEYS[1], field)) or 0)
    for _, batch in ipairs(batches) do
      left = left - (tonumber(redis.call('HGET', batch, field)) or 0)
    end
    if left < tonumber(gate) then
      redis.call('SET', KEYS[i], left, 'KEEPTTL')
      lowered = lowered + 1
    end
  end
end
return lowered
