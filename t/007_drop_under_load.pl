# Models dropped and made again while pgbench clients score and train them:
# the server survives, every call either answers or says the model is gone
# (never anything else), the memory of the dropped states comes back, and
# the last model made works.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('drop_under_load');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'monolith'\nmax_connections = 20");
$node->start;

# A call that fails only because its model was dropped or is being made
# again counts as "gone"; any other error stops the client.
$node->safe_psql('postgres', q{
	CREATE EXTENSION monolith;
	SELECT monolith.create_model('churn', ARRAY['id'], dim => 16);
	CREATE TABLE outcomes (what text);
	CREATE FUNCTION churn_call(train boolean, id int) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
		IF train THEN
			-- New IDs by the thousand: the call allocates, and holds the lock a while.
			PERFORM monolith.train('churn', id % 2 = 0, ARRAY(SELECT generate_series(id, id + 999)));
		ELSE
			PERFORM monolith.score('churn', ARRAY[id, id + 1, id + 2]);
		END IF;
		INSERT INTO outcomes VALUES ('answered');
	EXCEPTION WHEN undefined_object OR object_not_in_prerequisite_state THEN
		INSERT INTO outcomes VALUES ('gone');
	END
	$$;
});

my $script = PostgreSQL::Test::Utils::tempdir() . '/churn.sql';
PostgreSQL::Test::Utils::append_to_file($script, <<'SQL');
\set id random(1, 10000000)
\set train random(0, 1)
SELECT churn_call(:train = 1, :id);
SQL

my ($out, $err) = ('', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', '8', '-f', $script, $node->connstr('postgres') ],
	'>', \$out, '2>', \$err);

# Meanwhile, drop and make the model again, and again.
my $rounds = 0;
my $deadline = time + 7;
while (time < $deadline)
{
	$node->safe_psql('postgres', q{
		SELECT monolith.drop_model('churn');
		SELECT monolith.create_model('churn', ARRAY['id'], dim => 16);
		SELECT count(monolith.train('churn', true, id)) FROM generate_series(1, 20000) id;
	});
	$rounds++;
}
$bench->finish;

like($out, qr/number of failed transactions: 0 /, 'no pgbench client failed') or diag($out . $err);
unlike($err, qr/aborted|ERROR/, 'no client aborted');
cmp_ok($rounds, '>', 5, "the model was dropped and made again $rounds times meanwhile");
my ($answered, $gone) = split /\|/, $node->safe_psql('postgres',
	q{SELECT count(*) FILTER (WHERE what = 'answered'), count(*) FILTER (WHERE what = 'gone') FROM outcomes});
cmp_ok($answered, '>', 1000, "calls answered ($answered; $gone found the model gone)");
is($node->safe_psql('postgres', q{SELECT ids > 0 FROM monolith.models WHERE name = 'churn'}), 't',
	'the last model made holds its IDs');
is($node->safe_psql('postgres', q{SELECT live_models FROM monolith.memory_usage()}), '1',
	'and it alone is live');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|server process .* exited with exit code/, 'no backend crashed');

$node->stop;
done_testing();
