-- Events that PostgreSQL has (committed): acknowledge them in the consumer group and delete
-- them from the stream, which keeps the stream as short as the flush backlog.
--
-- KEYS: 1 events stream
-- ARGV: 1 consumer group   2.. entry ids
-- Returns how many entries were deleted.

redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
