# The online joiner under load: pgbench clients insert impressions and
# actions (a share rolled back, many actions late), the background worker
# closes windows on the wall clock, and afterwards every impression trained
# exactly what its committed actions say.  Then the worker's life: SIGHUP
# rereads its naptime, SIGTERM ends it and the launcher starts another, a
# backend killed with SIGKILL mid-transaction takes the server through crash
# recovery, and after that and a clean restart the worker is back at work.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('joiner');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'monolith'
max_connections = 40
restart_after_crash = on
monolith.joiner_naptime = 100ms
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION monolith;
	SELECT monolith.create_model('ctr', ARRAY['u', 'i'], dim => 4, min_count => 1,
	       admit_probability => 1.0);
	CREATE SEQUENCE impressions_seq CACHE 1;
	CREATE TABLE impressions (key bigint PRIMARY KEY DEFAULT nextval('impressions_seq'),
	                          shown_at timestamptz NOT NULL DEFAULT now(), u int, i int);
	CREATE INDEX ON impressions (shown_at);
	CREATE TABLE actions (key bigint, liked boolean);
	CREATE INDEX ON actions (key);
	SELECT monolith.create_joiner('ctr', 'ctr', 'impressions', 'actions', 'key', 'shown_at',
	       'liked', join_window => '2 seconds', allowed_lateness => '1 second',
	       retention => '1 day');
});

# The database's worker, once the launcher has started it.
sub worker_pid
{
	$node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'monolith worker'})
	  or die "no monolith worker";
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'monolith worker'});
}
ok(worker_pid() > 0, 'create_joiner starts a worker for its database');

# 1. Four clients insert impressions five at a time, two insert actions for
# committed impressions up to 100000 back (many past their window) and a
# positive for the latest impression whose negative has committed, so that
# some actions are late however few impressions a slow machine makes; one
# transaction in five of each rolls back.
my $impressions = $node->basedir . '/impressions.sql';
PostgreSQL::Test::Utils::append_to_file($impressions, q{
\set r random(1, 5)
BEGIN;
INSERT INTO impressions (u, i) SELECT (random() * 500)::int, (random() * 200)::int FROM generate_series(1, 5);
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
});
my $actions = $node->basedir . '/actions.sql';
PostgreSQL::Test::Utils::append_to_file($actions, q{
\set r random(1, 5)
BEGIN;
INSERT INTO actions SELECT i.key, random() < 0.6 FROM impressions i
 WHERE i.key IN (SELECT s.last_value - (random() * 100000)::bigint FROM impressions_seq s, generate_series(1, 3));
INSERT INTO actions SELECT d.key::bigint, true FROM monolith.joined d
 WHERE d.joiner = (SELECT j.id FROM monolith.joiners j) AND NOT d.positive
 ORDER BY d.shown_at DESC LIMIT 1;
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
});
my $bench = sub {
	my ($script, $clients) = @_;
	return IPC::Run::start(
		[ 'pgbench', '-n', '-c', $clients, '-j', $clients, '-T', '8', '-f', $script,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \my $out, '2>', \my $err);
};
my @runs = ($bench->($impressions, 4), $bench->($actions, 2));
ok($_->finish, 'pgbench ran') for @runs;

# Every committed impression's window closes: each has a record.
ok( $node->poll_query_until('postgres', q{
		SELECT count(*) = 0 FROM impressions i
		 WHERE NOT EXISTS (SELECT FROM monolith.joined d WHERE d.key = i.key::text)}),
	'the worker closes every window');
my ($impressions_n, $positives, $negatives, $late, $answered, $orphans, $committed, $failed) =
  split /\|/, $node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM impressions),
	       s.positives, s.negatives, s.late_positives,
	       (SELECT count(DISTINCT a.key) FROM actions a JOIN impressions i ON i.key = a.key
	         WHERE a.liked),
	       (SELECT count(*) FROM monolith.joined d
	         WHERE NOT EXISTS (SELECT FROM impressions i WHERE i.key::text = d.key)),
	       m.examples_committed, m.examples_failed
	  FROM monolith.joiner_status s JOIN monolith.models m ON m.name = s.model});
note("impressions $impressions_n, positives $positives, negatives $negatives, late $late");
cmp_ok($impressions_n, '>', 1000, 'thousands of impressions');
is($positives, $answered,
	'each impression with a committed positive action trained one positive');
is($positives + $negatives - $late, $impressions_n,
	'every other impression trained one negative, and none both but late ones');
cmp_ok($late, '>', 0, 'late actions trained positives after their negatives');
is($orphans, 0, 'no record of an impression that was rolled back');
is($committed, $positives + $negatives, 'the model learnt exactly what was recorded');
is($failed, 0, 'no training failed');

# 2. SIGHUP: a naptime of an hour stops the closing; back to 100 ms, it resumes.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET monolith.joiner_naptime = '1h'; SELECT pg_reload_conf();
	SELECT pg_sleep(0.5);
	INSERT INTO impressions (u, i) VALUES (1, 1);
});
sleep(4);
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM impressions i
	 WHERE NOT EXISTS (SELECT FROM monolith.joined d WHERE d.key = i.key::text)}),
	1, 'a naptime of an hour, read on SIGHUP, leaves the window open');
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET monolith.joiner_naptime = '100ms'; SELECT pg_reload_conf();
});
ok( $node->poll_query_until('postgres', q{
		SELECT count(*) = 0 FROM impressions i
		 WHERE NOT EXISTS (SELECT FROM monolith.joined d WHERE d.key = i.key::text)}),
	'back to 100 ms on SIGHUP, the worker closes it');

# 3. SIGTERM ends the worker cleanly; the launcher starts another.
my $old = worker_pid();
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old)");
ok( $node->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE backend_type = 'monolith worker' AND pid <> $old}),
	'the launcher restarts a terminated worker');

# Whether an impression inserted now is closed by the worker.
sub worker_closes
{
	my ($tag) = @_;
	my $key = $node->safe_psql('postgres',
		"INSERT INTO impressions (u, i) VALUES ($tag, $tag) RETURNING key");
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM monolith.joined WHERE key = '$key' AND negative");
}

# 4. SIGKILL of a backend holding uncommitted actions and records: crash
# recovery, after which the records have none of its transaction, and the
# worker is back.
my $timer = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
my ($in, $out, $err) = ('', '', '');
my $victim = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$in, '>', \$out, '2>', \$err, $timer);
$in .= q{BEGIN;
INSERT INTO impressions (key, u, i) VALUES (-1, 5, 5);
INSERT INTO actions VALUES (-1, true);
SELECT pg_backend_pid();
};
pump_until($victim, $timer, \$out, qr/^\d+\n/m) or die 'the transaction did not start';
my ($pid) = $out =~ /^(\d+)$/m;
kill 'KILL', $pid;
# psql ends when its server goes: what is left of its input is not fed to it
# (a closed pipe), and the harness is reaped inside eval, now and not at exit.
$in = '';
eval { $victim->finish };
eval { $victim->kill_kill };
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server recovers from the crash');
is($node->safe_psql('postgres', q{SELECT count(*) FROM monolith.joined WHERE key = '-1'}), 0,
	'nothing of the killed transaction was recorded');
ok($node->safe_psql('postgres', q{SELECT ids FROM monolith.models WHERE name = 'ctr'}) > 0,
	'the model came back from what the sync had shipped');
ok(worker_closes(7), 'after crash recovery the worker closes windows again');

# 5. A clean restart: the launcher looks in every database and finds the joiner.
$node->restart;
ok(worker_pid() > 0, 'after a restart the worker is back');
ok(worker_closes(8), 'and closes windows');

# 6. Several joiners in one database are all served, by one worker, which
# a restarted launcher does not duplicate.
for my $n (2 .. 4)
{
	$node->safe_psql('postgres', qq{
		CREATE TABLE shown$n (key int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), u int, i int);
		CREATE INDEX ON shown$n (at);
		CREATE TABLE acted$n (key int);
		CREATE INDEX ON acted$n (key);
		SELECT monolith.create_joiner('j$n', 'ctr', 'shown$n', 'acted$n', 'key', 'at',
		       join_window => '1 second');
		INSERT INTO shown$n SELECT g, now(), g, g FROM generate_series(1, 10) g;
	});
}
ok( $node->poll_query_until('postgres', q{
		SELECT count(*) = 3 FROM monolith.joiner_status WHERE name LIKE 'j_' AND negatives = 10}),
	'every joiner of the database is served');
$node->safe_psql('postgres', q{
	SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'monolith launcher'});
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'monolith launcher'})
  or die 'no launcher came back';
sleep(2);
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'monolith worker'}),
	1, 'a restarted launcher leaves the running worker alone');
$node->safe_psql('postgres', q{
	SELECT monolith.drop_joiner(name) FROM monolith.joiner_status WHERE name LIKE 'j_'});

# 7. With the last joiner dropped the worker stays while the database has a
# model in memory, whose changes it ships; dropping the model lets it exit.
$node->safe_psql('postgres', q{SELECT monolith.drop_joiner('ctr')});
sleep(1);
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'monolith worker'}),
	1, 'with no joiner left the worker stays for the live model');
$node->safe_psql('postgres', q{SELECT monolith.drop_model('ctr')});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'monolith worker'}),
	'with no joiner and no model left the worker exits');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'monolith launcher'}),
	1, 'the launcher stays');

$node->stop;
done_testing();
