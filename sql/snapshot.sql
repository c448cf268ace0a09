-- Snapshots: a model's whole training state in a file, listed, pruned, and
-- restored as it was taken; who may take and restore them; bad arguments.
SELECT monolith.create_model('snap', ARRAY['user_id', 'item_id'], dim => 8);
-- a DeepFM whose admission filter (a sketch) must come back too
SELECT monolith.create_model('snap_deep', ARRAY['user_id', 'item_id'], dim => 4, min_count => 2,
                             numeric_features => ARRAY['age'], hidden => ARRAY[8]);
SELECT count(monolith.train('snap', (i % 7 < 3), i % 200, i % 57)) FROM generate_series(1, 3000) i;
SELECT count(monolith.train('snap_deep', (i % 5 < 2), i % 100, i % 41, (i % 9)::float8)) FROM generate_series(1, 2000) i;
-- user 5000 sighted once: the sketch counts it, the table does not hold it yet
SELECT monolith.train('snap_deep', true, 5000, 1, 1.0) IS NOT NULL AS sighted;
CREATE TEMP TABLE pairs AS SELECT u, i FROM generate_series(1, 20) u, generate_series(1, 5) i;
CREATE TEMP TABLE scored AS
SELECT 'snap' AS model, u, i, monolith.score('snap', u, i) AS score FROM pairs
UNION ALL
SELECT 'snap_deep', u, i, monolith.score('snap_deep', u, i, 3.0) FROM pairs;

-- a snapshot holds every ID; the view lists it, complete, with the sync position it covers
SELECT ids = (SELECT ids FROM monolith.models WHERE name = 'snap') AS every_id,
       bytes > 0 AS written, file LIKE 'monolith/snapshots/%.snap' AS under_data_directory
  FROM monolith.snapshot('snap');
SELECT model, status, ids, bytes > 0 AS written, sync_incarnation IS NOT NULL AS has_position
  FROM monolith.snapshots ORDER BY model;
SELECT model, ids FROM monolith.snapshot_all() ORDER BY model;
SELECT model, count(*) FROM monolith.snapshots GROUP BY model ORDER BY model;
CREATE TEMP TABLE first_snapshot AS SELECT max(taken_at) AS taken_at FROM monolith.snapshots WHERE model = 'snap';

-- training after the snapshot changes scores; restoring puts them back exactly
SELECT count(monolith.train('snap', true, u, i)) FROM pairs;
SELECT count(monolith.train('snap_deep', true, u, i, 3.0)) FROM pairs;
SELECT count(*) FILTER (WHERE monolith.score('snap', u, i) <> score) > 0 AS trained_on
  FROM scored WHERE model = 'snap';
SELECT monolith.restore('snap', (SELECT taken_at FROM first_snapshot)) AS restored_ids;
SELECT monolith.restore('snap_deep') AS restored_ids;
SELECT count(*) FILTER (WHERE (CASE model WHEN 'snap' THEN monolith.score('snap', u, i)
                                          ELSE monolith.score('snap_deep', u, i, 3.0) END) <> score) AS differ
  FROM scored;
-- the optimizer state and the admission sketch came back: training on goes
-- as it would have (a user sighted once before the snapshot is admitted at
-- its second sighting)
SELECT ids FROM monolith.models WHERE name = 'snap_deep';
SELECT monolith.train('snap_deep', true, 5000, 1, 1.0) IS NOT NULL AS sighted_again;
SELECT ids FROM monolith.models WHERE name = 'snap_deep';
SELECT examples_trained FROM monolith.models WHERE name = 'snap';

-- monolith.snapshots_kept prunes the oldest
ALTER SYSTEM SET monolith.snapshots_kept = 2;
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
SELECT count(*) FROM (SELECT monolith.snapshot('snap') FROM generate_series(1, 3)) s;
SELECT count(*) AS kept FROM monolith.snapshots WHERE model = 'snap';
ALTER SYSTEM RESET monolith.snapshots_kept;
SELECT pg_reload_conf();

-- who may: the owner takes and restores; a scorer sees the snapshots but
-- may not take or restore them; a stranger sees none
CREATE ROLE regress_snap_owner;
CREATE ROLE regress_snap_scorer;
CREATE ROLE regress_snap_stranger;
GRANT USAGE ON SCHEMA monolith TO regress_snap_owner, regress_snap_scorer, regress_snap_stranger;
SET ROLE regress_snap_owner;
SELECT monolith.create_model('owned', ARRAY['u']);
SELECT count(monolith.train('owned', true, 1));
SELECT ids FROM monolith.snapshot('owned');
SELECT monolith.grant_model('owned', 'score', 'regress_snap_scorer');
SELECT model, ids FROM monolith.snapshot_all();
RESET ROLE;
SET ROLE regress_snap_scorer;
SELECT model, status, ids FROM monolith.snapshots;
SELECT monolith.snapshot('owned');
SELECT monolith.restore('owned');
SELECT count(*) AS taken FROM monolith.snapshot_all();
RESET ROLE;
SET ROLE regress_snap_stranger;
SELECT count(*) AS visible FROM monolith.snapshots;
SELECT monolith.snapshot('snap');
RESET ROLE;

-- bad arguments: nothing changes
SELECT monolith.snapshot(NULL);
SELECT monolith.snapshot('no_such_model');
SELECT monolith.restore(NULL);
SELECT monolith.restore('no_such_model');
SELECT monolith.restore('snap', '2001-01-01 00:00:00+00');
SELECT monolith.create_model('never_snapped', ARRAY['u']);
SELECT monolith.restore('never_snapped');
SELECT count(*) FILTER (WHERE monolith.score('snap', u, i) <> score) AS differ
  FROM scored WHERE model = 'snap';

-- a dropped model's snapshots go with it, at commit
CREATE TEMP TABLE snapshot_dir AS
SELECT 'monolith/snapshots/' || oid AS dir FROM pg_database WHERE datname = current_database();
SELECT count(*) AS files FROM pg_ls_dir((SELECT dir FROM snapshot_dir)) f WHERE f LIKE '%.snap';
BEGIN;
SELECT monolith.drop_model('snap');
SELECT count(*) AS files_before_commit FROM pg_ls_dir((SELECT dir FROM snapshot_dir)) f WHERE f LIKE '%.snap';
COMMIT;
SELECT count(*) AS files FROM pg_ls_dir((SELECT dir FROM snapshot_dir)) f WHERE f LIKE '%.snap';
SELECT model, count(*) FROM monolith.snapshots GROUP BY model ORDER BY model;
SELECT monolith.drop_model('snap_deep');
SELECT monolith.drop_model('never_snapped');
SET ROLE regress_snap_owner;
SELECT monolith.drop_model('owned');
RESET ROLE;
SELECT count(*) AS files FROM pg_ls_dir((SELECT dir FROM snapshot_dir)) f;
REVOKE USAGE ON SCHEMA monolith FROM regress_snap_owner, regress_snap_scorer, regress_snap_stranger;
DROP ROLE regress_snap_owner, regress_snap_scorer, regress_snap_stranger;
