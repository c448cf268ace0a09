# Snapshots and crash recovery on a real server.  A model comes back by
# itself after a backend is killed with SIGKILL (the postmaster restarts
# every process) and after an immediate stop, scoring as the trainer did
# before the crash, with the training after the last snapshot included up
# to the last sync; a crash under load loses at most about one sync
# interval of training (measured, in examples and in seconds); a corrupt
# and a truncated snapshot are passed over, logged, for an older one; a
# snapshot taken while 4 sessions train and 4 score makes none of them
# fail and misses no ID; and pg_cron takes snapshots by itself.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

# pg_cron where the server under test has it (Debian's, for Debian's server;
# the assertion-enabled build of scripts/cassert.sh has none).
my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
my $has_cron = -e "$pkglibdir/pg_cron.so";
my $preload = $has_cron ? 'monolith, pg_cron' : 'monolith';

my $node = PostgreSQL::Test::Cluster->new('trainer');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = '$preload'
cron.database_name = 'postgres'
cron.use_background_workers = on
monolith.sync_interval = 100ms
monolith.max_memory = 512MB
max_worker_processes = 16
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION monolith;
	SELECT monolith.create_model('fm', ARRAY['u', 'i'], dim => 8);
	SELECT monolith.create_model('deep', ARRAY['u', 'i'], dim => 4, hidden => ARRAY[8], min_count => 2);
});

# Training: users like items of their parity.
sub train
{
	my ($from, $to) = @_;
	$node->safe_psql('postgres', qq{
		SELECT count(monolith.train(m, (u + i) % 2 = 0, u, i))
		  FROM generate_series($from, $to) n,
		       LATERAL (SELECT n % 97 AS u, (n * 7) % 89 AS i) p,
		       unnest(ARRAY['fm', 'deep']) m});
}

# Scores of both models on a grid of pairs, as text.
my $grid = q{
	SELECT string_agg(m || ':' || u || ':' || i || '=' ||
	                  monolith.score(m, u, i)::text, ',' ORDER BY m, u, i)
	  FROM unnest(ARRAY['fm', 'deep']) m, generate_series(0, 99, 7) u, generate_series(0, 95, 5) i};

# Waits until the sync has shipped every change: no key waits, and a round more has gone.
sub synced
{
	$node->poll_query_until('postgres',
		q{SELECT bool_and(keys_waiting = 0) AND count(*) = 2 FROM monolith.sync_status})
	  or die 'the sync did not catch up';
	usleep(400_000);
}

# The number of "restored" lines in the server log so far.
sub restores_logged
{
	my @lines = grep { /LOG:  model "fm" restored with/ } split /\n/, slurp_file($node->logfile);
	return scalar @lines;
}

# Kills one backend with SIGKILL: the postmaster then ends and restarts every process.
sub crash_a_backend
{
	my ($out, $err) = ('', '');
	my $sleeper = IPC::Run::start(
		[ 'psql', '-X', '-c', 'SELECT pg_sleep(600)', '-d', $node->connstr('postgres') ],
		'>', \$out, '2>', \$err);
	$node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)'})
	  or die 'no backend to kill';
	my $pid = $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)'});
	kill 'KILL', $pid;
	$sleeper->finish;
	$node->poll_query_until('postgres', 'SELECT true') or die 'the server did not come back';
}

train(1, 5000);
my ($fm_snapshot) = $node->safe_psql('postgres', q{SELECT ids FROM monolith.snapshot('fm')});
is($fm_snapshot, 97 + 89, 'a snapshot holds every ID');
$node->safe_psql('postgres', q{SELECT monolith.snapshot('deep')});
train(5001, 8000);
synced();
my $want = $node->safe_psql('postgres', $grid);

my $logged = restores_logged();
crash_a_backend();
is($node->safe_psql('postgres', $grid), $want,
	'after a backend is killed, the restored models score as before the crash');
cmp_ok(restores_logged(), '>', $logged, 'the restore is logged');
like(slurp_file($node->logfile), qr/From snapshot "[^"]+" \(186 IDs\), then \d+ keys of \d+ parts? the sync shipped after it/,
	'from the snapshot, then the sync after it');

train(8001, 11000);
synced();
$want = $node->safe_psql('postgres', $grid);
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', $grid), $want, 'after an immediate stop, too');
train(11001, 12000);
is($node->safe_psql('postgres', q{SELECT count(*) FROM monolith.models WHERE examples_trained > 0}),
	'2', 'the restored models train on');

# A corrupt and a truncated snapshot are passed over for an older one.
synced();
$node->safe_psql('postgres', q{SELECT monolith.snapshot('fm')});
train(12001, 13000);
my ($corrupt) = $node->safe_psql('postgres', q{SELECT file FROM monolith.snapshot('fm')});
train(13001, 14000);
my ($truncated) = $node->safe_psql('postgres', q{SELECT file FROM monolith.snapshot('fm')});
train(14001, 15000);
synced();
$want = $node->safe_psql('postgres', $grid);
$node->stop('immediate');
my $path = $node->data_dir . '/' . $corrupt;
my $size = -s $path;
open(my $fh, '+<', $path) or die "could not open $path: $!";
binmode $fh;
seek($fh, int($size / 2), 0);
read($fh, my $byte, 1);
seek($fh, int($size / 2), 0);
print $fh chr(ord($byte) ^ 0x40);
close $fh;
truncate($node->data_dir . '/' . $truncated, int((-s $node->data_dir . '/' . $truncated) * 2 / 3))
  or die "could not truncate: $!";
$node->start;
is($node->safe_psql('postgres', $grid), $want, 'restored from the snapshot before the damaged ones');
my $log = slurp_file($node->logfile);
like($log, qr/WARNING:  snapshot "\Q$truncated\E" of model "fm" is truncated/, 'the truncated one is logged');
like($log, qr/WARNING:  snapshot "\Q$corrupt\E" of model "fm" is corrupt/, 'the corrupt one is logged');

# A whole snapshot of deep's, copied under another name (an hour later):
# its header says otherwise, so an explicit restore of it is refused, as
# corrupt, before deep's state is touched (nothing is restored, not even
# by itself).
my ($deep_file) = $node->safe_psql('postgres',
	q{SELECT file FROM monolith.snapshots WHERE model = 'deep' ORDER BY taken_at DESC LIMIT 1});
my ($misplaced, $misplaced_at) = do {
	my ($head, $ts) = $deep_file =~ m{^(.*-)(\d+)\.snap$} or die "no snapshot name in $deep_file";
	("$head" . ($ts + 3_600_000_000) . '.snap', $ts + 3_600_000_000);
};
PostgreSQL::Test::Utils::append_to_file($node->data_dir . '/' . $misplaced,
	slurp_file($node->data_dir . '/' . $deep_file));
my $deep_grid = $node->safe_psql('postgres', $grid);
my $deep_restores = () = slurp_file($node->logfile) =~ /model "deep" restored with/g;
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	qq{SELECT monolith.restore('deep', timestamptz '2000-01-01 00:00:00+00' + interval '1 microsecond' * $misplaced_at)});
like($stderr, qr/ERROR:  snapshot "\Q$misplaced\E" of model "deep" is corrupt/,
	'a snapshot file under another name is refused');
is($node->safe_psql('postgres', $grid), $deep_grid, 'and the model is left as it was');
is(scalar(() = slurp_file($node->logfile) =~ /model "deep" restored with/g), $deep_restores,
	'its state untouched: nothing was restored');
unlink($node->data_dir . '/' . $misplaced) or die "could not remove $misplaced: $!";

# A crash under load: two sessions train, each example's commit logged, and
# a backend is killed.  The training lost is what the sync had not shipped.
$node->safe_psql('postgres', q{
	CREATE TABLE trained (at timestamptz NOT NULL);
	SELECT monolith.snapshot('fm');
});
my $script = PostgreSQL::Test::Utils::tempdir() . '/train.sql';
PostgreSQL::Test::Utils::append_to_file($script, <<'SQL');
\set u random(1, 5000)
\set i random(1, 2000)
BEGIN;
SELECT monolith.train('fm', (:u + :i) % 2 = 0, :u, :i);
INSERT INTO trained VALUES (clock_timestamp());
END;
SQL
my ($out, $err) = ('', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-j', '2', '-T', '30', '-f', $script, $node->connstr('postgres') ],
	'>', \$out, '2>', \$err);
$node->poll_query_until('postgres', q{SELECT count(*) > 3000 FROM trained}) or die 'no training';
crash_a_backend();
$bench->finish;
# The crash came right after the last example logged; the sync had shipped
# the changes up to its last round's shipped_at at least.
my ($lost_seconds, $lost_examples, $rate) = split /\|/, $node->safe_psql('postgres', q{
	WITH crash AS (SELECT max(at) AS at FROM trained),
	shipped AS (
		SELECT max(b.shipped_at) AS at FROM monolith.sync_batches b
		  JOIN monolith.model_definitions d ON d.id = b.model_id, crash
		 WHERE d.name = 'fm' AND b.shipped_at <= crash.at)
	SELECT round(extract(epoch FROM crash.at - shipped.at), 3),
	       (SELECT count(*) FROM trained WHERE trained.at > shipped.at),
	       (SELECT round(count(*) / extract(epoch FROM max(at) - min(at))) FROM trained)
	  FROM crash, shipped});
note("crash under load: $lost_examples examples ($lost_seconds s) not yet shipped were lost, of $rate examples/s");
cmp_ok($lost_seconds, '<=', 1.0, "the training lost is at most about one sync interval ($lost_seconds s)");
is($node->safe_psql('postgres', q{SELECT ids > 1000 FROM monolith.models WHERE name = 'fm'}), 't',
	'the model came back with the training under load');

# A snapshot while 4 sessions train and 4 score: none fails, no ID is missed.
$node->safe_psql('postgres', q{
	SELECT monolith.create_model('big', ARRAY['u', 'i'], dim => 16);
	SELECT count(monolith.train('big', n % 3 = 0, n, n % 1000)) FROM generate_series(1, 200000) n;
});
my $live_before = $node->safe_psql('postgres', q{SELECT ids FROM monolith.models WHERE name = 'big'});
my $trainers = PostgreSQL::Test::Utils::tempdir() . '/trainers.sql';
PostgreSQL::Test::Utils::append_to_file($trainers, <<'SQL');
\set u random(1, 200000)
SELECT monolith.train('big', :u % 3 = 0, :u, :u % 1000);
SQL
my $scorers = PostgreSQL::Test::Utils::tempdir() . '/scorers.sql';
PostgreSQL::Test::Utils::append_to_file($scorers, <<'SQL');
\set u random(1, 200000)
SELECT CASE WHEN s BETWEEN 0 AND 1 THEN s ELSE 1 / (s - s) END FROM (SELECT monolith.score('big', :u, :u % 1000) AS s) t;
SQL
my @load;
for my $file ($trainers, $scorers)
{
	my %run = (out => '', err => '');
	$run{h} = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '6', '-f', $file, $node->connstr('postgres') ],
		'>', \$run{out}, '2>', \$run{err});
	push @load, \%run;
}
my @taken;
for (1 .. 5)
{
	push @taken, $node->safe_psql('postgres', q{SELECT ids FROM monolith.snapshot('big')});
	usleep(500_000);
}
$_->{h}->finish for @load;
for my $run (@load)
{
	like($run->{out}, qr/number of failed transactions: 0 /, 'no pgbench client failed') or diag($run->{out} . $run->{err});
	unlike($run->{err}, qr/ERROR|aborted/, 'and none aborted');
}
is(scalar(grep { $_ >= $live_before } @taken), 5, "every snapshot under load holds every ID ($live_before of them, at least)");
my $big_grid = q{SELECT string_agg(monolith.score('big', u, u % 1000)::text, ',' ORDER BY u) FROM generate_series(1, 200000, 997) u};
my ($ids_now) = $node->safe_psql('postgres', q{SELECT ids FROM monolith.snapshot('big')});
my $big_want = $node->safe_psql('postgres', $big_grid);
is($node->safe_psql('postgres', q{SELECT monolith.restore('big')}), $ids_now, 'a restore of the last one brings every ID back');
is($node->safe_psql('postgres', $big_grid), $big_want, 'and scores as the model did');

# pg_cron takes a snapshot of every model by itself, within a minute.
SKIP:
{
	skip "pg_cron is not installed for the server under test ($pkglibdir)", 2 unless $has_cron;
	my $before = $node->safe_psql('postgres', q{SELECT count(*) FROM monolith.snapshots WHERE model = 'deep'});
	$node->safe_psql('postgres', q{
		CREATE EXTENSION pg_cron;
		SELECT cron.schedule('monolith-snapshots', '* * * * *', $$SELECT monolith.snapshot_all()$$);
	});
	ok($node->poll_query_until('postgres',
			qq{SELECT count(*) > $before FROM monolith.snapshots WHERE model = 'deep'}),
		'pg_cron took a snapshot');
	$node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM cron.job_run_details WHERE status <> 'running'});
	is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT status, ',') FROM cron.job_run_details WHERE status <> 'running'}),
		'succeeded', 'and its job succeeded');
}

$node->stop;
done_testing();
