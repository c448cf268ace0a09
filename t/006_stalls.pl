# A huge training statement stalls nobody: beside one that trains a million
# new IDs in examples of 100,000, scorers with a 300 ms statement_timeout
# never time out, a second model trains at once, and the statement itself
# ends promptly when cancelled, its model whole.  monolith.log_long_holds
# logs the holds of the lock.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('stalls');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'monolith'\nmonolith.max_memory = 1GB");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION monolith;
	SELECT monolith.create_model('big', ARRAY['id'], dim => 16);
	SELECT monolith.create_model('other', ARRAY['id'], dim => 16);
});

my $huge = q{SELECT count(monolith.train('big', true, ids))
	FROM (SELECT array_agg(i) AS ids FROM generate_series(1, 3000000) i GROUP BY i / 100000) b};

# Scorers of the trained model, each call under a 300 ms timeout, and a
# trainer of another model, while the huge statement runs.
my $trainer = $node->background_psql('postgres', on_error_stop => 0);
$trainer->query_until(qr/started/, "\\echo started\n$huge;\n");
my $script = "SET statement_timeout = '300ms';\n";
$script .= "SELECT monolith.score('big', $_); SELECT monolith.train('other', true, $_);\n" for 1 .. 6000;
my ($ret, $out, $err) = $node->psql('postgres', $script . "SELECT 'no timeout';", on_error_stop => 1);
my $scores = (split /\n/, $out)[-1];
is($scores, 'no timeout', 'scorers with a 300 ms timeout never time out beside it') or diag($err);
cmp_ok($node->safe_psql('postgres', q{SELECT examples_trained FROM monolith.models WHERE name = 'other'}),
	'>', 100, 'another model trains meanwhile');
cmp_ok($node->safe_psql('postgres', q{SELECT longest_exclusive_ms FROM monolith.models WHERE name = 'big'}),
	'<', 50, 'no exclusive hold of the trained model lasts long');

# Cancelled, the statement ends at once, and the model stays whole.
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query LIKE '%generate_series(1, 3000000)%' AND pid <> pg_backend_pid()});
my $asked = time;
if ($pid ne '')
{
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid AND state = 'active'"),
		'the cancelled statement ends');
	cmp_ok(time - $asked, '<', 2, 'promptly');
}
else
{
	pass('the statement had ended before the cancel');
	pass('so it was not waited for');
}
$trainer->quit;
my ($ids, $found) = split /\|/, $node->safe_psql('postgres', q{
	SELECT m.ids, (SELECT count(*) FROM generate_series(1, 1000) i
	                WHERE monolith.score('big', i) <> monolith.score('big', NULL))
	  FROM monolith.models m WHERE m.name = 'big'});
cmp_ok($ids, '>', 0, "the model keeps the IDs trained before the cancel ($ids)");
is($node->safe_psql('postgres', q{SELECT monolith.train('big', true, 1) > 0}), 't', 'and trains on');

# Long holds can be logged, each with the time its holder was on the CPU;
# only a superuser may turn that on.
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	SET monolith.log_long_holds = 0;
	SELECT count(monolith.train('big', true, ids))
	  FROM (SELECT array_agg(i) AS ids FROM generate_series(5000001, 5200000) i GROUP BY i / 100000) b});
like(slurp_file($node->logfile, $log_offset),
	qr/exclusive hold of the lock of model \d+ of database \d+ lasted [\d.]+ ms\n.*DETAIL:  The process was on the CPU for [\d.]+ ms of it and was preempted \d+ times/,
	'monolith.log_long_holds logs each hold with its time on the CPU');
$node->safe_psql('postgres', 'CREATE ROLE plain');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE plain; SET monolith.log_long_holds = 0');
like($err, qr/permission denied to set parameter "monolith.log_long_holds"/, 'which a plain role may not set');

$node->stop;
done_testing();
