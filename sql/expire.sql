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
