# train_query over time: progress shows in NOTICEs and in monolith.models while
# it runs, a model dropped under it ends it cleanly, and score runs in
# parallel workers, also on a model whose parameters a restart emptied.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('query_passes');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'monolith'");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION monolith;
	SELECT monolith.create_model('m', ARRAY['user_id', 'item_id'], dim => 8);
	CREATE TABLE events AS
	SELECT n, n % 97 AS user_id, n % 89 AS item_id, n % 3 = 0 AS label
	  FROM generate_series(1, 20000) n;
});

# A pass whose first row takes over a second: the clock read at row 4096
# finds the interval past and says how far the pass is.
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET monolith.progress_interval = '1s';
	SELECT examples FROM monolith.train_query('m',
		'SELECT *, CASE WHEN n = 1 THEN pg_sleep(1.2) END AS pause FROM events ORDER BY n');
});
is($ret, 0, 'slow pass succeeds');
is($out, '20000', 'every row trained');
like($err, qr/NOTICE:  model "m": trained on 4096 rows in \d+ s, \d+ rows\/s/,
	'progress notice at the interval');

# While a pass runs, other sessions see its steps in monolith.models.
sub start_session
{
	my ($sql) = @_;
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$o, '2>', \$e);
	return { handle => $h, out => \$o, err => \$e };
}

$node->safe_psql('postgres', q{SELECT monolith.create_model('slow', ARRAY['user_id', 'item_id'])});
my $pass = start_session(q{
	SELECT examples FROM monolith.train_query('slow',
		'SELECT *, CASE WHEN n % 1000 = 0 THEN pg_sleep(0.2) END AS pause FROM events ORDER BY n')});
ok($node->poll_query_until('postgres',
		q{SELECT examples_trained BETWEEN 1 AND 19999 FROM monolith.models WHERE name = 'slow'}),
	'monolith.models shows a pass under way');
$pass->{handle}->finish;
is(${ $pass->{out} }, "20000\n", 'the watched pass completes');

# Dropping the model under a running pass ends the pass with an error; the
# server stays up and the model is gone.
$node->safe_psql('postgres', q{SELECT monolith.create_model('doomed', ARRAY['user_id', 'item_id'])});
$pass = start_session(q{
	SELECT examples FROM monolith.train_query('doomed',
		'SELECT *, CASE WHEN n % 500 = 0 THEN pg_sleep(0.1) END AS pause FROM events ORDER BY n')});
ok($node->poll_query_until('postgres',
		q{SELECT examples_trained > 0 FROM monolith.models WHERE name = 'doomed'}),
	'doomed pass started');
$node->safe_psql('postgres', q{SELECT monolith.drop_model('doomed')});
$pass->{handle}->finish;
like(${ $pass->{err} }, qr/model "doomed" was dropped/, 'the pass stops: model dropped');
is($node->safe_psql('postgres', q{SELECT count(*) FROM monolith.model_stats()}), '2',
	'only the two live models hold memory');

# A session whose snapshot still shows a dropped model's definition gets an
# error, and does not bring the model's parameters back.
$node->safe_psql('postgres', q{SELECT monolith.create_model('gone', ARRAY['user_id', 'item_id'])});
my $old = $node->background_psql('postgres', on_error_stop => 0);
$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$old->query_safe('SELECT count(*) FROM monolith.model_definitions');
$node->safe_psql('postgres', q{SELECT monolith.drop_model('gone')});
$old->query(q{SELECT monolith.score('gone', 1, 2)});
like($old->{stderr}, qr/model "gone" was dropped/, 'an old snapshot sees the model dropped');
$old->query('COMMIT');
$old->quit;
is($node->safe_psql('postgres', q{SELECT count(*) FROM monolith.model_stats()}), '2',
	'no state came back for the dropped model');

# Nor after more models are dropped meanwhile than any list of dropped ones
# could hold: what counts is whether the row exists now.
$node->safe_psql('postgres', q{SELECT monolith.create_model('gone_again', ARRAY['user_id', 'item_id'])});
$old = $node->background_psql('postgres', on_error_stop => 0);
$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$old->query_safe('SELECT count(*) FROM monolith.model_definitions');
$node->safe_psql('postgres', q{SELECT monolith.drop_model('gone_again')});
$node->safe_psql('postgres', q{
	DO $$
	BEGIN
		FOR i IN 1 .. 1100 LOOP
			PERFORM monolith.create_model('churn', ARRAY['a']);
			PERFORM monolith.drop_model('churn');
			COMMIT;
		END LOOP;
	END
	$$});
$old->query(q{SELECT monolith.score('gone_again', 1, 2)});
like($old->{stderr}, qr/model "gone_again" was dropped/, 'after 1,100 drops too');
$old->query('COMMIT');
$old->quit;
is($node->safe_psql('postgres', q{SELECT live_models FROM monolith.memory_usage()}), '2',
	'no state came back, none leaked');

# score in parallel workers gives what it gives serially.
my $parallel = q{
	SET parallel_setup_cost = 0;
	SET parallel_tuple_cost = 0;
	SET min_parallel_table_scan_size = 0;
	SET max_parallel_workers_per_gather = 2;
};
like($node->safe_psql('postgres', $parallel . q{
	EXPLAIN (COSTS OFF) SELECT sum(monolith.score('m', user_id, item_id)) FROM events}),
	qr/Gather/, 'score runs under Gather');
my $serial_sum = $node->safe_psql('postgres', q{
	SET max_parallel_workers_per_gather = 0;
	SELECT round(sum(monolith.score('m', user_id, item_id))::numeric, 9) FROM events});
is($node->safe_psql('postgres', $parallel . q{
	SELECT round(sum(monolith.score('m', user_id, item_id))::numeric, 9) FROM events}),
	$serial_sum, 'parallel and serial scores agree');

# After a restart the database's worker restores the model; parallel
# workers then score it as before.  (One that finds no state is refused:
# it cannot restore a model itself.)
$node->restart;
$node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM monolith.models WHERE name = 'm'})
  or die 'the model was not restored';
is($node->safe_psql('postgres', $parallel . q{
	SELECT round(sum(monolith.score('m', user_id, item_id))::numeric, 9) FROM events}),
	$serial_sum, 'the restored model scores as before, in parallel');

$node->stop;
done_testing();
