# Two sessions train one model at once while a third scores it: no key is
# lost or duplicated, the server survives, and each sees the others' updates.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('concurrent');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'monolith'");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION monolith;
	SELECT monolith.create_model('shared', ARRAY['user_id', 'item_id', 'tags'], dim => 8);
	SELECT setseed(0.5);
	CREATE TABLE events AS
	SELECT n, (random() * 40000)::int AS user_id, (random() * 30000)::int AS item_id,
	       ARRAY['t' || (random() * 50)::int, 't' || (random() * 50)::int] AS tags,
	       random() < 0.5 AS liked
	  FROM generate_series(1, 120000) n;
});

# Each session trains its own half of the stream, in order; IDs overlap.
sub start_session
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$out, '2>', \$err);
	return { handle => $h, out => \$out, err => \$err };
}

my @trainers = map {
	start_session(qq{
		SELECT count(monolith.train('shared', liked, user_id, item_id, tags))
		  FROM events WHERE n % 2 = $_});
} (0, 1);
my $scorer = start_session(q{
	SELECT count(monolith.score('shared', user_id, item_id, tags))
	  FROM events, generate_series(1, 3) WHERE n % 7 = 0});

for my $s (@trainers, $scorer)
{
	$s->{handle}->finish;
	is(${ $s->{err} }, '', 'session ran without error');
}
is(${ $trainers[0]{out} } + ${ $trainers[1]{out} }, "120000\n" + 0, 'both sessions trained their halves');
is(${ $scorer->{out} }, "51426\n", 'scorer scored while training ran');

my $expected_ids = $node->safe_psql('postgres', q{
	SELECT (SELECT count(DISTINCT user_id) FROM events)
	     + (SELECT count(DISTINCT item_id) FROM events)
	     + (SELECT count(DISTINCT t) FROM events, unnest(tags) t)});
my ($ids, $examples) = split /\|/, $node->safe_psql('postgres',
	q{SELECT ids, examples_trained FROM monolith.models WHERE name = 'shared'});
is($ids, $expected_ids, 'every distinct ID has exactly one entry');
is($examples, 120000, 'every example was counted');

# Every ID is found by a lookup: scoring a trained user alone differs from nothing.
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT DISTINCT user_id FROM events) u
	 WHERE monolith.score('shared', user_id, NULL, NULL) = monolith.score('shared', NULL, NULL, NULL)}),
	'0', 'every trained user is found');

# What one session trains, another scores at once.
my $before = $node->safe_psql('postgres', q{SELECT monolith.score('shared', 1, 1, NULL)});
$node->safe_psql('postgres', q{SELECT count(monolith.train('shared', true, 1, 1, NULL)) FROM generate_series(1, 50)});
my $after = $node->safe_psql('postgres', q{SELECT monolith.score('shared', 1, 1, NULL)});
cmp_ok($after, '>', $before, 'another session sees the update at once');

$node->stop;
done_testing();
