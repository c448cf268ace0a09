# Serving replicas kept fresh by the parameter sync, over real logical
# replication between three clusters: a trainer and two replicas, one
# subscribed before training and one after.  The replicas' scores equal
# the trainer's once training stops and a round has shipped; keys expired
# by monolith.expire, or by the worker past a slot's ttl, vanish on them; a
# DeepFM's tower arrives; a restarted replica rebuilds its memory from the
# replicated tables, and so does one whose apply worker was killed; a
# terminated worker resumes; a stopped replica holds back no other;
# training on a replica, or writing its tables without rights, is refused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

sub new_node
{
	my ($name, $role) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 'logical');
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'monolith'
monolith.role = '$role'
monolith.sync_interval = 50ms
monolith.dense_sync_interval = 200ms
monolith.expire_interval = 200ms
max_worker_processes = 16
restart_after_crash = on
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION monolith');
	return $node;
}

my $trainer = new_node('trainer', 'trainer');
my $early = new_node('early', 'replica');

$trainer->safe_psql('postgres', q{
	SELECT monolith.create_model('fm', ARRAY['u', 'i'], dim => 8);
	SELECT monolith.create_model('deep', ARRAY['u', 'i'], dim => 4, hidden => ARRAY[8]);
	SELECT monolith.create_publication();
});
my $trainer_conn = $trainer->connstr . ' dbname=postgres';

sub subscribe
{
	my ($node, $name) = @_;
	$node->safe_psql('postgres',
		"CREATE SUBSCRIPTION $name CONNECTION '$trainer_conn' PUBLICATION monolith");
	$node->wait_for_subscription_sync($trainer, $name);
}
subscribe($early, 'early');

# Training: users like items of their parity.
sub train
{
	my ($from, $to) = @_;
	$trainer->safe_psql('postgres', qq{
		SELECT count(monolith.train(m, (u + i) % 2 = 0, u, i))
		  FROM generate_series($from, $to) n,
		       LATERAL (SELECT n % 97 AS u, (n * 7) % 89 AS i) p,
		       unnest(ARRAY['fm', 'deep']) m});
}
train(1, 5000);

# Scores of both models on a grid of pairs, known and unknown, as text.
my $grid = q{
	SELECT string_agg(m || ':' || u || ':' || i || '=' ||
	                  monolith.score(m, u, i)::text, ',' ORDER BY m, u, i)
	  FROM unnest(ARRAY['fm', 'deep']) m, generate_series(0, 99, 7) u, generate_series(0, 95, 5) i};

# Waits until the node's scores equal the trainer's (training has stopped).
sub scores_follow
{
	my ($node) = @_;
	my $want = $trainer->safe_psql('postgres', $grid);
	my $ok = $node->poll_query_until('postgres', qq{
		SELECT coalesce((SELECT bool_and(ready) AND count(*) = 2 FROM monolith.replica_status), false)
		   AND ($grid) = '$want'});
	if (!$ok)
	{
		my $got = $node->safe_psql('postgres', $grid);
		my @w = split /,/, $want;
		my @g = split /,/, $got;
		my @diff = grep { $w[$_] ne ($g[$_] // '') } 0 .. $#w;
		diag("replica differs at " . scalar(@diff) . " of " . scalar(@w) . " pairs, first: trainer $w[$diff[0]], replica $g[$diff[0]]") if @diff;
		diag($node->safe_psql('postgres', 'SELECT * FROM monolith.replica_status'));
		diag($node->safe_psql('postgres', 'SELECT id, name FROM monolith.model_definitions'));
		diag($node->safe_psql('postgres', 'SELECT model_id, count(*), sum(keys), min(round), max(round) FROM monolith.sync_batches GROUP BY 1'));
		diag($trainer->safe_psql('postgres', 'SELECT model_id, count(*), sum(keys), min(round), max(round) FROM monolith.sync_batches GROUP BY 1'));
		diag($node->safe_psql('postgres', q{SELECT pid, backend_type, state FROM pg_stat_activity WHERE backend_type LIKE 'monolith%'}));
	}
	return $ok;
}

ok(scores_follow($early), 'the replica subscribed before training scores as the trainer does');
is($early->safe_psql('postgres', q{
	SELECT bool_and(keys_applied > 0 AND parts_rejected = 0 AND last_applied_age < '1 minute')
	  FROM monolith.replica_status}), 't', 'it counts the keys it applied, and the age of the last');
is($trainer->safe_psql('postgres', q{SELECT bool_and(rounds > 0 AND keys_shipped > 0) FROM monolith.sync_status}),
	't', 'the trainer counts rounds and keys shipped');

# The tower: the DeepFM's scores depend on it, and match only if it came.
$trainer->safe_psql('postgres', q{
	SELECT monolith.train('deep', true, 1000 + n, 2000 + n) FROM generate_series(1, 200) n});
ok(scores_follow($early), 'more training, and the tower with it, arrive');

# Training, creating or dropping models on a replica is refused.
my ($ret, $out, $err) = $early->psql('postgres', q{SELECT monolith.train('fm', true, 1, 2)});
like($err, qr/model "fm" cannot be changed on a replica/, 'training on a replica is refused');
($ret, $out, $err) = $early->psql('postgres', q{SELECT monolith.create_model('local', ARRAY['u'])});
like($err, qr/cannot be changed on a replica/, 'creating a model on a replica is refused');

# Expiry on the trainer: the keys vanish on the replica.
my $ids = q{SELECT string_agg(name || ':' || ids, ',' ORDER BY name) FROM monolith.models};
is($early->safe_psql('postgres', $ids), $trainer->safe_psql('postgres', $ids),
	'the replica holds as many keys as the trainer');
# (IDs are dated by the second: a second on, all of them are older than now.)
$trainer->safe_psql('postgres', q{SELECT pg_sleep(1.1); SELECT monolith.expire('fm', '0 seconds')});
is($trainer->safe_psql('postgres', q{SELECT ids FROM monolith.models WHERE name = 'fm'}), '0',
	'expiry empties the trainer\'s model');
ok( $early->poll_query_until('postgres',
		q{SELECT ids = 0 FROM monolith.models WHERE name = 'fm'}),
	'the expired keys vanish on the replica');
train(5001, 8000);
ok(scores_follow($early), 'and what is trained after comes back');

# Expiry by ttl, done by the trainer's worker: the users of a model whose
# user slot has a ttl of a second go, its items (no ttl) stay; so on the replica.
$trainer->safe_psql('postgres', q{
	SELECT monolith.create_model('aging', ARRAY['u', 'i'], dim => 4,
	                             slot_ttl => ARRAY[interval '1 second', NULL]);
	SELECT count(monolith.train('aging', true, u, u % 10)) FROM generate_series(1, 100) u});
ok( $trainer->poll_query_until('postgres',
		q{SELECT ids = 10 AND expired = 100 FROM monolith.models WHERE name = 'aging'}),
	'the worker expires the users past their slot\'s ttl and keeps the items');
ok( $early->poll_query_until('postgres', q{SELECT ids = 10 FROM monolith.models WHERE name = 'aging'}),
	'and the expired users vanish on the replica');
$trainer->safe_psql('postgres', q{SELECT monolith.drop_model('aging')});

# Compaction: rounds that retrain the same keys add rows, until a cycle
# ships the unchanged keys again and deletes the older rounds.
$trainer->safe_psql('postgres', q{
	DO $$
	BEGIN
		FOR r IN 1..40 LOOP
			PERFORM monolith.train('fm', (n % 2) = 0, n % 97, (n * 7) % 89) FROM generate_series(1, 300) n;
			COMMIT;
			PERFORM pg_sleep(0.06);
		END LOOP;
	END
	$$});
my $rows = q{
	SELECT pg_catalog.sum(b.keys) AS records, pg_catalog.min(b.round) AS oldest, pg_catalog.max(b.round) AS newest,
	       (SELECT ids FROM monolith.models WHERE name = 'fm') AS ids
	  FROM monolith.sync_batches b JOIN monolith.model_definitions d ON d.id = b.model_id
	 WHERE d.name = 'fm'};
my ($records, $oldest, $newest, $fm_ids) = split /\|/, $trainer->safe_psql('postgres', $rows);
ok($oldest > 1, "old rounds were deleted (rounds $oldest to $newest kept)");
ok($records <= 2 * $fm_ids + 1024 + 3 * $fm_ids,
	"the rows hold $records records for $fm_ids keys");
ok(scores_follow($early), 'the replica still scores as the trainer does');

# A replica that subscribes after training has the trainer's full state,
# from the moment it first says it is ready: not before the subscription's
# first copy of the tables is in.
my $late = new_node('late', 'replica');
$late->safe_psql('postgres', "CREATE SUBSCRIPTION late CONNECTION '$trainer_conn' PUBLICATION monolith");
ok( $late->poll_query_until('postgres',
		q{SELECT count(*) = 2 AND bool_and(ready) FROM monolith.replica_status}, 't'),
	'a replica subscribed after training becomes ready');
is($late->safe_psql('postgres', $ids), $trainer->safe_psql('postgres', $ids),
	'and holds every key when it first says so');
ok(scores_follow($late), 'a replica subscribed after training has the full state');
is($late->safe_psql('postgres', q{SELECT ids FROM monolith.models WHERE name = 'fm'}),
	$trainer->safe_psql('postgres', q{SELECT ids FROM monolith.models WHERE name = 'fm'}),
	'with every key');

# A restarted replica rebuilds its memory from the replicated tables.
$early->restart;
ok(scores_follow($early), 'a restarted replica rebuilds and scores as the trainer does');

# The trainer's worker, terminated, resumes: nothing trained meanwhile is lost.
my $worker = $trainer->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'monolith worker'});
$trainer->safe_psql('postgres', "SELECT pg_terminate_backend($worker)");
train(8001, 9000);
ok( $trainer->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE backend_type = 'monolith worker' AND pid <> $worker}),
	'the launcher restarts the terminated worker');
ok(scores_follow($early) && scores_follow($late), 'both replicas catch up after it resumes');

# Each replica has its own slot: one stopped holds back no other, and
# started again it catches up from where it stood.
$late->safe_psql('postgres', 'ALTER SUBSCRIPTION late DISABLE');
train(9001, 10000);
ok(scores_follow($early), 'a replica follows while another is stopped');
ok( $trainer->poll_query_until('postgres', q{
		SELECT l.confirmed_flush_lsn < e.confirmed_flush_lsn
		  FROM pg_replication_slots l, pg_replication_slots e
		 WHERE l.slot_name = 'late' AND e.slot_name = 'early'}),
	'the stopped replica\'s slot keeps its own place, behind the other\'s');
$late->safe_psql('postgres', 'ALTER SUBSCRIPTION late ENABLE');
ok(scores_follow($late), 'started again, it catches up');

# On a replica, a role without rights cannot write what the apply worker
# writes, though it may use the schema (to score).
$early->safe_psql('postgres', 'CREATE ROLE mallory LOGIN; GRANT USAGE ON SCHEMA monolith TO mallory');
for my $table ('sync_batches', 'sync_dense', 'model_definitions')
{
	my ($ret, $out, $err) = $early->psql('postgres',
		"INSERT INTO monolith.$table SELECT * FROM monolith.$table LIMIT 1",
		extra_params => [ '-U', 'mallory' ]);
	like($err, qr/permission denied for table $table/, "a role without rights cannot insert into monolith.$table");
}

# The apply worker killed with SIGKILL: the replica goes through crash
# recovery, rebuilds its memory and follows again.
my $apply = $early->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_subscription WHERE subname = 'early' AND relid IS NULL});
kill 'KILL', $apply;
train(10001, 11000);
ok(scores_follow($early), 'after SIGKILL of its apply worker a replica recovers, rebuilds and follows');

# A model dropped on the trainer vanishes on the replicas.
$trainer->safe_psql('postgres', q{SELECT monolith.drop_model('deep')});
ok( $late->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM monolith.models WHERE name = 'deep'}),
	'a model dropped on the trainer vanishes on the replica');
ok( $trainer->poll_query_until('postgres', q{
		SELECT count(*) = 0 FROM monolith.sync_batches b
		 WHERE NOT EXISTS (SELECT FROM monolith.model_definitions d WHERE d.id = b.model_id)}),
	'and its shipped rows go');

$_->stop for ($late, $early, $trainer);
done_testing();
