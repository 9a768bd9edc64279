-- Forget a batch that PostgreSQL has (its ClickFlush row is committed).
--
-- KEYS: 1 batch   2 set of open batches

redis.call('DEL', KEYS[1])
return redis.call('SREM', KEYS[2], KEYS[1])
