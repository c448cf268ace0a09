# The memory cap is shared fairly: a model that another has crowded out of
# the cap still gets its share, whether the other trains or sits idle; two
# and five models at an 8 MB cap all learn; a lowered cap is given back; a
# model that could not hold one ID under the cap is refused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('memory_share');
$node->init;
# The sync stays on: its logs of changes are held to the cap like the rest.
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'monolith'\nmonolith.max_memory = 8MB");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION monolith');

my $cap = 8 * 1024 * 1024;

# Trains model $m on $n new IDs from $from on, in $batches statements.
sub train_ids
{
	my ($m, $from, $n, $batches) = @_;
	my $per = int($n / $batches);
	for my $b (0 .. $batches - 1)
	{
		my $lo = $from + $b * $per;
		my $hi = $lo + $per - 1;
		$node->safe_psql('postgres',
			"SELECT count(monolith.train('$m', id % 2 = 0, id)) FROM generate_series($lo, $hi) id");
	}
}

sub figures
{
	my ($m) = @_;
	return split /\|/, $node->safe_psql('postgres',
		"SELECT ids, memory_bytes, refused FROM monolith.models WHERE name = '$m'");
}

# How many of the IDs from $first to $last (the 1,000 up to $last if no
# $first) model $m scores otherwise than an ID it never saw: those it learned
# and kept.  (IDs trained within one second are alike to the
# least-recently-seen rule, so which of them go is chance.)
sub learned
{
	my ($m, $last, $first) = @_;
	$first //= $last - 999;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM generate_series($first, $last) id
		  WHERE monolith.score('$m', id) <> monolith.score('$m', NULL)");
}

# One model fills the cap; a second, made after, trains and gets its share
# while the first sits idle.
$node->safe_psql('postgres', q{SELECT monolith.create_model('first', ARRAY['id'], dim => 16)});
train_ids('first', 1, 100000, 4);
my ($first_ids, $first_bytes) = figures('first');
cmp_ok($first_bytes, '>', 0.8 * $cap, "the first model fills the cap ($first_bytes bytes, $first_ids IDs)");
$node->safe_psql('postgres', q{SELECT monolith.create_model('second', ARRAY['id'], dim => 16)});
train_ids('second', 1000001, 20000, 4);
my ($second_ids, $second_bytes, $second_refused) = figures('second');
($first_ids, $first_bytes) = figures('first');
cmp_ok($second_ids, '>', 10000, "the second model holds its share ($second_ids IDs, $second_bytes bytes)");
cmp_ok($first_bytes, '<', 0.6 * $cap, "the idle first gave memory back ($first_bytes bytes)");
cmp_ok(learned('second', 1019999), '>', 300, 'the second model learns');
cmp_ok(learned('first', 100000), '>', 100, 'the first keeps part of what it learned');
my $used = $node->safe_psql('postgres', 'SELECT used_bytes FROM monolith.memory_usage()');
cmp_ok($used, '<=', $cap, "together under the cap ($used bytes)");

# Both training at once, in turns: neither starves.
for my $round (0 .. 3)
{
	train_ids('first', 200001 + $round * 10000, 10000, 1);
	train_ids('second', 2000001 + $round * 10000, 10000, 1);
}
($first_ids) = figures('first');
($second_ids) = figures('second');
cmp_ok($first_ids, '>', 10000, "two training models: the first holds $first_ids IDs");
cmp_ok($second_ids, '>', 10000, "two training models: the second holds $second_ids IDs");

# Five models at the same cap, the first four made while the cap is full.
$node->safe_psql('postgres', q{SELECT monolith.drop_model('first'); SELECT monolith.drop_model('second')});
my %trained = map { $_ => ($_ == 1 ? 100000 : 20000) } 1 .. 5;
for my $i (1 .. 5)
{
	$node->safe_psql('postgres', "SELECT monolith.create_model('m$i', ARRAY['id'], dim => 16)");
	train_ids("m$i", $i * 10000000, $trained{$i}, 4);
}
for my $i (1 .. 5)
{
	my ($ids, $bytes, $refused) = figures("m$i");
	cmp_ok($ids, '>', 2000, "model m$i of five holds $ids IDs ($bytes bytes, $refused refused)");
	my $learned = learned("m$i", $i * 10000000 + $trained{$i} - 1, $i * 10000000);
	cmp_ok($learned, '>', $ids / 2, "model m$i of five learns: $learned of the IDs it trained score as learned");
}
$used = $node->safe_psql('postgres', 'SELECT used_bytes FROM monolith.memory_usage()');
cmp_ok($used, '<=', $cap, "five models under the cap ($used bytes)");

# A lowered cap is given back, as the models go on training.
$node->append_conf('postgresql.conf', 'monolith.max_memory = 16MB');
$node->reload;
train_ids('m1', 30000000, 100000, 4);
cmp_ok($node->safe_psql('postgres', 'SELECT used_bytes FROM monolith.memory_usage()'), '>', $cap,
	'a raised cap is used');
$node->append_conf('postgresql.conf', 'monolith.max_memory = 8MB');
$node->reload;
sleep(1);
for my $i (1 .. 5)
{
	train_ids("m$i", 40000000 + $i * 100000, 2000, 1);
}
$used = $node->safe_psql('postgres', 'SELECT used_bytes FROM monolith.memory_usage()');
cmp_ok($used, '<=', $cap, "a lowered cap is given back ($used bytes)");

# A model whose first ID would not fit under the cap is refused at creation.
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT monolith.create_model('huge', ARRAY['a', 'b', 'c', 'd'], dim => 64, hidden => ARRAY[1024, 512])});
isnt($ret, 0, 'a model too large for the cap is refused');
like($err, qr/model "huge" needs \d+ kB of shared memory to hold one ID, more than monolith.max_memory/,
	'and the error says why');
is($node->safe_psql('postgres', q{SELECT count(*) FROM monolith.models WHERE name = 'huge'}), '0',
	'and leaves no definition behind');

$node->stop;
done_testing();
