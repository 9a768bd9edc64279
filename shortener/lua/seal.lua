-- Seal the pending counters of one slot into a batch: RENAME is atomic, so every increment is
-- either in the new batch or in a fresh pending hash, never lost or in both. The batch is
-- remembered in the slot's set of open batches until it has been applied to PostgreSQL, so a
-- flush that crashed half-way is resumed by the next one.
--
-- KEYS: 1 pending counters   2 set of open batches   3 name for the new batch
-- Returns every open batch of the slot (the new one included).

if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[3])
  redis.call('SADD', KEYS[2], KEYS[3])
end
return redis.call('SMEMBERS', KEYS[2])
