-- Expiry removes IDs not seen for a while and keeps the rest.
SELECT monolith.create_model('stale', ARRAY['user_id', 'item_id']);
SELECT count(monolith.train('stale', true, u, 100 + u)) FROM generate_series(1, 5) u;
SELECT ids FROM monolith.models WHERE name = 'stale';
SELECT monolith.expire('stale', interval '1 hour') AS removed;
SELECT pg_sleep(2.1);
-- user 1 and item 101 are seen again; the others are now two seconds stale
SELECT count(monolith.train('stale', false, 1, 101));
SELECT monolith.expire('stale', interval '1 second') AS removed;
SELECT ids FROM monolith.models WHERE name = 'stale';
-- the survivors still score as trained; expired IDs score as absent
SELECT monolith.score('stale', 1, 101) <> monolith.score('stale', NULL, NULL) AS survivor_trained,
       monolith.score('stale', 2, 102) = monolith.score('stale', NULL, NULL) AS expired_absent;
-- an expired ID is admitted afresh when seen again
SELECT count(monolith.train('stale', true, 2, 102));
SELECT ids FROM monolith.models WHERE name = 'stale';
SELECT monolith.expire('stale', interval '0 seconds') >= 0 AS zero_age_allowed;
SELECT monolith.drop_model('stale');

-- ttl: the worker expires IDs unseen for their model's ttl, or for their
-- slot's own (test/monolith.conf sets monolith.expire_interval to 100 ms).
-- Users here go after a second; items, with a day, stay.
SELECT monolith.create_model('aging', ARRAY['user_id', 'item_id'], ttl => interval '1 second',
                             slot_ttl => ARRAY[NULL, interval '1 day']::interval[]);
SELECT ttl, slot_ttl FROM monolith.models WHERE name = 'aging';
SELECT count(monolith.train('aging', true, u, 100 + u)) FROM generate_series(1, 5) u;
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN (SELECT ids FROM monolith.models WHERE name = 'aging') = 5;
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
SELECT ids, expired FROM monolith.models WHERE name = 'aging';
SELECT monolith.score('aging', NULL, 101) <> monolith.score('aging', NULL, NULL) AS item_kept;
SELECT monolith.drop_model('aging');
-- a model without a ttl keeps its IDs
SELECT monolith.create_model('ageless', ARRAY['u']);
SELECT count(monolith.train('ageless', true, 1));
SELECT pg_sleep(2.1);
SELECT ids, expired, ttl, slot_ttl FROM monolith.models WHERE name = 'ageless';
SELECT monolith.drop_model('ageless');
-- a hashed model takes one ttl
SELECT monolith.create_model('hashed_aging', ARRAY['u', 'i'], hash_rows => 64, ttl => interval '7 days');
SELECT ttl FROM monolith.models WHERE name = 'hashed_aging';
SELECT monolith.drop_model('hashed_aging');
-- refused
SELECT monolith.create_model('bad', ARRAY['u'], ttl => interval '0');
SELECT monolith.create_model('bad', ARRAY['u'], ttl => interval '-1 day');
SELECT monolith.create_model('bad', ARRAY['u'], ttl => interval '0.5 seconds');
SELECT monolith.create_model('bad', ARRAY['u', 'i'], slot_ttl => ARRAY[interval '1 day']);
SELECT monolith.create_model('bad', ARRAY['u', 'i'], slot_ttl => ARRAY[interval '1 day', interval '0']);
SELECT monolith.create_model('bad', ARRAY['u', 'i'], slot_ttl => ARRAY[[interval '1 day'], [interval '1 day']]);
SELECT monolith.create_model('bad', ARRAY['u', 'i'], hash_rows => 64,
                             slot_ttl => ARRAY[interval '1 day', NULL]);
SELECT count(*) FROM monolith.models WHERE name = 'bad';
