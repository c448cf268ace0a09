# monolith.train_trigger under concurrent inserters: only committed rows
# train, each once.  A storm of rolled-back transactions and savepoints from
# pgbench, a serialization failure at commit, a model dropped by another
# session while a transaction holds its examples, a backend killed with
# SIGKILL while it trains at commit, and a restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('trigger_commits');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'monolith'
max_connections = 40
restart_after_crash = on
});
$node->start;

# Every ID admitted at first sight, so the model's IDs are exactly those of
# the rows it trained on.
$node->safe_psql('postgres', q{
	CREATE EXTENSION monolith;
	SELECT monolith.create_model('online', ARRAY['u', 'i'], dim => 4, min_count => 1,
	       admit_probability => 1.0);
	CREATE SEQUENCE events_seq CACHE 1;
	CREATE TABLE events (seq bigint DEFAULT nextval('events_seq'), u int, i int, liked boolean);
	CREATE TRIGGER events_train AFTER INSERT ON events
	  REFERENCING NEW TABLE AS new FOR EACH STATEMENT
	  EXECUTE FUNCTION monolith.train_trigger('online', 'liked');
});

# What the model counts, as a hash.
sub model_figures
{
	my ($name) = @_;
	my @v = split /\|/, $node->safe_psql('postgres', qq{
		SELECT ids, examples_trained, examples_committed, examples_rolled_back, examples_failed
		  FROM monolith.models WHERE name = '$name'});
	my %f;
	@f{qw(ids trained committed rolled_back failed)} = @v;
	return \%f;
}

# 1. Six clients insert small batches; three transactions in ten roll back,
# one in ten rolls back to a savepoint.  Every row takes a sequence number,
# which no rollback returns, so rows inserted minus rows present is exactly
# the rows rolled back.
my $script = $node->basedir . '/storm.sql';
PostgreSQL::Test::Utils::append_to_file($script, q{
\set n random(1, 200000)
\set r random(1, 10)
BEGIN;
INSERT INTO events (u, i, liked) SELECT :n + g, (:n + g) % 997, (:n + g) % 3 = 0 FROM generate_series(1, 4) g;
\if :r <= 3
ROLLBACK;
\else
SAVEPOINT s;
INSERT INTO events (u, i, liked) VALUES (-:n, 5000 + :n % 50, true);
\if :r = 4
ROLLBACK TO s;
\endif
COMMIT;
\endif
});
$node->command_ok(
	[ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', '8', '-f', $script, '-d', $node->connstr('postgres') ],
	'pgbench rollback storm ran');

my ($rows, $inserted, $distinct_ids) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*), (SELECT last_value FROM events_seq),
	       (SELECT count(DISTINCT u) FROM events) + (SELECT count(DISTINCT i) FROM events)
	  FROM events});
my $f = model_figures('online');
cmp_ok($inserted - $rows, '>', 1000, 'many rows were rolled back');
is($f->{committed}, $rows, 'examples trained at commit = committed rows');
is($f->{trained}, $rows, 'the model took as many steps');
is($f->{rolled_back}, $inserted - $rows, 'examples rolled back = rows rolled back');
is($f->{failed}, 0, 'no example failed');
is($f->{ids}, $distinct_ids, 'the model holds the IDs of committed rows, and only those');

# Background sessions, fed statements one at a time, each with a timeout of
# its own (a shared one would count from the first session's start, and
# under a slow, assertion-enabled build run out during a later one).
sub session
{
	my %s = (in => '', out => '', err => '',
		timer => IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	$s{h} = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('postgres'), '-f', '-' ],
		'<', \$s{in}, '>', \$s{out}, '2>', \$s{err}, $s{timer});
	return \%s;
}
sub run_in
{
	my ($s, $sql, $wait_for) = @_;
	$s->{in} .= "$sql\n\\echo done\n";
	$s->{timer}->start($PostgreSQL::Test::Utils::timeout_default);
	pump_until($s->{h}, $s->{timer}, \$s->{out}, qr/done\n$/) or die "session timed out on $sql";
	pump_until($s->{h}, $s->{timer}, \$s->{err}, $wait_for) if $wait_for;
	$s->{out} = '';
}

# 2. Write skew under SERIALIZABLE: each reads what the other inserts.  The
# second to commit fails at COMMIT, after the pre-commit work, and its rows
# must not train.
$f = model_figures('online');
my ($s1, $s2) = (session(), session());
run_in($s1, q{BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT count(*) FROM events WHERE u = -1000001;});
run_in($s2, q{BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT count(*) FROM events WHERE u = -1000002;});
run_in($s1, q{INSERT INTO events (u, i, liked) VALUES (-1000002, 1, true), (-1000003, 1, true);});
run_in($s2, q{INSERT INTO events (u, i, liked) VALUES (-1000001, 1, true), (-1000004, 1, false), (-1000005, 1, true);});
run_in($s1, q{COMMIT;});
run_in($s2, q{COMMIT;}, qr/could not serialize access/);
like($s2->{err}, qr/ERROR:  could not serialize access/, 'the second commit failed to serialize');
my $g = model_figures('online');
is($g->{committed} - $f->{committed}, 2, 'the committed transaction trained its two rows');
is($g->{rolled_back} - $f->{rolled_back}, 3, 'the failed commit trained none of its three');
is($node->safe_psql('postgres', q{SELECT count(*) FROM events WHERE u <= -1000001}), '2',
	'only the first transaction\'s rows are in the table');

# 3. Another session drops the model while a transaction holds its
# examples: the transaction commits, with a warning, and its rows stay.
$node->safe_psql('postgres', q{SELECT monolith.create_model('doomed', ARRAY['u', 'i'], dim => 4);
	CREATE TABLE doomed_events (u int, i int, liked boolean);
	CREATE TRIGGER doomed_train AFTER INSERT ON doomed_events
	  REFERENCING NEW TABLE AS new FOR EACH STATEMENT
	  EXECUTE FUNCTION monolith.train_trigger('doomed', 'liked');});
$s2->{err} = '';
run_in($s2, q{BEGIN; INSERT INTO doomed_events VALUES (1, 2, true), (3, 4, false);});
$node->safe_psql('postgres', q{SELECT monolith.drop_model('doomed')});
run_in($s2, q{COMMIT;}, qr/WARNING/);
like($s2->{err}, qr/WARNING:  model "doomed" was dropped before this transaction's examples for it could train/,
	'the commit warns that the dropped model\'s examples are lost');
unlike($s2->{err}, qr/ERROR/, 'and does not fail');
is($node->safe_psql('postgres', q{SELECT count(*) FROM doomed_events}), '2', 'its rows committed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM monolith.models WHERE name = 'doomed'}), '0',
	'the model is gone');
# Inserting now finds no model.
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{INSERT INTO doomed_events VALUES (5, 6, true)});
like($stderr, qr/model "doomed" does not exist/, 'later inserts find no model');
$s1->{in} .= "\\q\n";
$s2->{in} .= "\\q\n";
$_->{h}->finish for ($s1, $s2);

# 3b. The model dropped while a big transaction trains on it at commit: the
# commit warns and commits, and the session is as it was: its next statement
# can be cancelled (an error at commit must not leave interrupts held).  The
# drop lands at a random batch; three times, so that some land inside a
# round of batches whose copies are still to merge.
for my $attempt (1 .. 3)
{
	$node->safe_psql('postgres', q{SELECT monolith.create_model('midway', ARRAY['u', 'i'], dim => 4);
		CREATE TABLE midway_events (u int, i int, liked boolean);
		CREATE TRIGGER midway_train AFTER INSERT ON midway_events
		  REFERENCING NEW TABLE AS new FOR EACH STATEMENT
		  EXECUTE FUNCTION monolith.train_trigger('midway', 'liked');});
	my $mid = session();
	$mid->{in} .= q{SET work_mem = '1MB';
BEGIN;
INSERT INTO midway_events SELECT g, g % 1000, g % 2 = 0 FROM generate_series(1, 1000000) g;
SELECT pg_backend_pid();
COMMIT;
SELECT 'committed';
SELECT pg_sleep(120);
};
	pump_until($mid->{h}, $mid->{timer}, \$mid->{out}, qr/^\d+\n/m) or die 'big transaction did not start';
	my ($mid_pid) = $mid->{out} =~ /^(\d+)$/m;
	# Its steps count as they go, so once some are counted it trains.
	$node->poll_query_until('postgres',
		q{SELECT examples_trained > 0 FROM monolith.models WHERE name = 'midway'})
	  or die 'the big transaction did not train at its commit';
	$node->safe_psql('postgres', q{SELECT monolith.drop_model('midway')});
	pump_until($mid->{h}, $mid->{timer}, \$mid->{out}, qr/committed/) or die 'the commit did not end';
	like($mid->{err},
		qr/WARNING:  could not train on the examples of a committed transaction: model "midway" was dropped/,
		"a model dropped while a commit trains on it: the commit warns ($attempt)");
	$node->poll_query_until('postgres',
		qq{SELECT query LIKE 'SELECT pg_sleep%' FROM pg_stat_activity WHERE pid = $mid_pid})
	  or die 'the next statement did not start';
	$node->safe_psql('postgres', qq{SELECT pg_cancel_backend($mid_pid)});
	$mid->{timer}->start(30);
	ok(pump_until($mid->{h}, $mid->{timer}, \$mid->{err}, qr/canceling statement due to user request/),
		"and the session's next statement can be cancelled ($attempt)");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM midway_events; DROP TABLE midway_events}),
		'1000000', "its rows committed ($attempt)");
	$mid->{h}->kill_kill;
}

# 4. SIGKILL of a backend while it trains a big transaction at commit: the
# server restarts, the definitions survive, the parameters come back as the
# sync last shipped them (no snapshot was taken), with the counts of
# outcomes new, and the trigger trains again, only on what commits after.
my $big = session();
$big->{in} .= q{SET work_mem = '1MB';
BEGIN;
INSERT INTO events (u, i, liked) SELECT g, g % 1000, g % 2 = 0 FROM generate_series(1, 3000000) g;
SELECT pg_backend_pid();
COMMIT;
};
pump_until($big->{h}, $big->{timer}, \$big->{out}, qr/^\d+\n/m) or die 'big transaction did not start';
my ($pid) = $big->{out} =~ /^(\d+)$/m;
# It trains at commit once its pid is printed; kill it while it does.
$node->poll_query_until('postgres',
	qq{SELECT state = 'active' AND query LIKE 'COMMIT%' FROM pg_stat_activity WHERE pid = $pid})
  or die 'the big transaction did not reach its commit';
kill 'KILL', $pid;
# psql ends when its server goes: what is left of its input is not fed to it
# (a closed pipe), and the harness is reaped inside eval, now and not at exit.
$big->{in} = '';
eval { $big->{h}->finish };
eval { $big->{h}->kill_kill };
$node->poll_query_until('postgres', 'SELECT 1', '1') or die 'server did not come back';
ok($node->log_contains(qr/terminated by signal 9/), 'the server saw the backend killed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM monolith.models WHERE name = 'online'}), '1',
	'the model\'s definition survived');
$f = model_figures('online');
ok($f->{ids} > 0 && $f->{committed} == 0, "its parameters come back from the sync's rows ($f->{ids} IDs), its counts anew");
$node->safe_psql('postgres', q{INSERT INTO events (u, i, liked) SELECT g, g, true FROM generate_series(1, 10) g;
	BEGIN; INSERT INTO events (u, i, liked) VALUES (1, 1, true); ROLLBACK;});
$f = model_figures('online');
is("$f->{committed}/$f->{rolled_back}", '10/1', 'the trigger trains committed rows again');

# 5. A clean restart: the parameters come back whole, once the sync has shipped them.
$node->poll_query_until('postgres', q{SELECT bool_and(keys_waiting = 0) FROM monolith.sync_status})
  or die 'the sync did not catch up';
sleep 1;
my $ids = model_figures('online')->{ids};
$node->restart;
$node->safe_psql('postgres', q{INSERT INTO events (u, i, liked) SELECT g, g, g % 2 = 0 FROM generate_series(1, 7) g});
$f = model_figures('online');
is("$f->{committed}/$f->{trained}/$f->{ids}", "7/7/$ids", 'after a restart the model is back, and the trigger trains on');

$node->stop;
done_testing();
