# At monolith.max_memory a model evicts its least recently seen IDs: training
# never fails, memory stays under the cap, and recent IDs survive.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

my $node = PostgreSQL::Test::Cluster->new('memory_cap');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'monolith'\nmonolith.max_memory = 16MB");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION monolith;
	SELECT monolith.create_model('capped', ARRAY['id'], dim => 16);
});
# 400,000 IDs of 152 bytes each would need about 60 MB.  They come in four
# batches a second or more apart, since last-seen times count seconds.
for my $batch (0 .. 3)
{
	my ($from, $to) = ($batch * 100000 + 1, ($batch + 1) * 100000);
	is($node->safe_psql('postgres', qq{
		SELECT count(monolith.train('capped', id % 2 = 0, id)) FROM generate_series($from, $to) id}),
		'100000', "training batch $batch at the cap never fails");
	sleep(1.1) if $batch < 3;
}

my ($ids, $bytes, $evicted) = split /\|/, $node->safe_psql('postgres',
	q{SELECT ids, memory_bytes, evicted FROM monolith.models WHERE name = 'capped'});
cmp_ok($evicted, '>', 0, "IDs were evicted ($evicted)");
cmp_ok($bytes, '<=', 16 * 1024 * 1024, "memory stays under the cap ($bytes bytes)");
cmp_ok($ids, '>', 50000, "the table still holds many IDs ($ids)");
is($ids + $evicted, 400000, 'every ID is either live or evicted');

# Eviction is least recently seen: the last IDs trained are far more likely live.
my ($old_live, $new_live) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE id <= 1000 AND monolith.score('capped', id) <> monolith.score('capped', NULL)),
	       count(*) FILTER (WHERE id > 399000 AND monolith.score('capped', id) <> monolith.score('capped', NULL))
	  FROM generate_series(1, 400000) id WHERE id <= 1000 OR id > 399000});
cmp_ok($new_live, '>', 900, "most recent IDs are live ($new_live of 1000)");
cmp_ok($old_live, '<', 100, "oldest IDs were evicted ($old_live of 1000 live)");

# A reloaded cap applies at once, in a session already using the area: three
# hundred thousand more IDs then fit without another eviction.
$node->append_conf('postgresql.conf', 'monolith.max_memory = 128MB');
my @lines = split /\n/, $node->safe_psql('postgres', q{
	SELECT monolith.train('capped', true, 400000) > 0;  -- live: no eviction
	SELECT pg_reload_conf();
	SELECT pg_sleep(0.5);
	SELECT count(monolith.train('capped', id % 2 = 0, id)) FROM generate_series(400001, 700000) id;
	SELECT memory_bytes, evicted FROM monolith.models WHERE name = 'capped'});
my ($grown_bytes, $evicted_after) = split /\|/, $lines[-1];
cmp_ok($grown_bytes, '>', 32 * 1024 * 1024, "a raised cap lets the table grow ($grown_bytes bytes)");
is($evicted_after, $evicted, 'and nothing more is evicted');

# The server is healthy and the model still learns.
is($node->safe_psql('postgres', q{SELECT monolith.train('capped', true, 1) > 0}), 't', 'model still trains');

$node->stop;
done_testing();
