# Definitions survive a restart and pg_dump; parameters come back after a
# clean restart (the worker ships a last round of the sync as the server
# stops, and restores the model from it at start); without
# shared_preload_libraries every function says what is missing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('lifecycle');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'monolith'");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION monolith;
	SELECT monolith.create_model('kept', ARRAY['user_id', 'item_id'], dim => 4, seed => 5);
	SELECT count(monolith.train('kept', true, u, u)) FROM generate_series(1, 100) u;
});
is($node->safe_psql('postgres', q{SELECT ids FROM monolith.models WHERE name = 'kept'}),
	'200', 'trained before restart');

$node->restart;
is($node->safe_psql('postgres', q{SELECT dim || ' ' || seed || ' ' || ids FROM monolith.models WHERE name = 'kept'}),
	'4 5 200', 'definition and parameters survive a clean restart');
is($node->safe_psql('postgres', q{SELECT count(monolith.train('kept', true, 1, 1))}),
	'1', 'the model trains after a restart');

# pg_dump carries the definitions to another database, with their owners and
# grants.
$node->safe_psql('postgres', q{
	CREATE ROLE regress_modeler;
	CREATE ROLE regress_reader;
	GRANT USAGE ON SCHEMA monolith TO regress_modeler;
	SET ROLE regress_modeler;
	SELECT monolith.create_model('owned', ARRAY['a']);
	SELECT monolith.grant_model('owned', 'score', 'regress_reader');
	SELECT monolith.grant_model('owned', 'train', 'public');
});
my $grants = q{SELECT owner || ' ' || privileges::text FROM monolith.models WHERE name = 'owned'};
is($node->safe_psql('postgres', $grants),
	'regress_modeler {regress_reader=r/regress_modeler,=w/regress_modeler}', 'a model with grants');
$node->safe_psql('postgres', 'CREATE DATABASE copy');
my $dump = $node->basedir . '/dump.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump runs');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('copy'), '-f', $dump ],
	'dump restores');
is($node->safe_psql('copy', q{SELECT name, slots FROM monolith.models WHERE name = 'kept'}),
	'kept|{user_id,item_id}', 'definition restored from the dump');
is($node->safe_psql('copy', $grants),
	'regress_modeler {regress_reader=r/regress_modeler,=w/regress_modeler}',
	'owner and grants restored from the dump');
$node->safe_psql('copy', q{SELECT monolith.drop_model('owned')});
$node->safe_psql('postgres', q{SELECT monolith.drop_model('owned')});
# Models of two databases with one name and id are separate.
$node->safe_psql('copy', q{SELECT count(monolith.train('kept', true, u, u)) FROM generate_series(1, 10) u});
is($node->safe_psql('copy', q{SELECT ids FROM monolith.models WHERE name = 'kept'}), '20', 'copy has its own parameters');
is($node->safe_psql('postgres', q{SELECT ids FROM monolith.models WHERE name = 'kept'}), '200', 'original unaffected');

# Dropping the extension, or the database, frees the models' memory.
$node->safe_psql('copy', 'DROP EXTENSION monolith');
$node->safe_psql('copy', 'CREATE EXTENSION monolith');
is($node->safe_psql('copy', 'SELECT count(*) FROM monolith.model_stats()'), '0',
	'DROP EXTENSION freed the models of its database');
is($node->safe_psql('postgres', 'SELECT count(*) FROM monolith.model_stats()'), '1',
	'models of other databases stay');
is($node->safe_psql('postgres', 'SELECT live_models FROM monolith.memory_usage()'), '1',
	'and nothing else holds memory');
$node->safe_psql('copy', q{SELECT monolith.create_model('again', ARRAY['a'])});
$node->safe_psql('copy', q{SELECT monolith.train('again', true, 1)});
my $copy_oid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'copy'});
$node->safe_psql('postgres', 'DROP DATABASE copy');
is($node->safe_psql('postgres', q{SELECT count(*) FROM monolith.model_stats()}), '1',
	'DROP DATABASE leaves this database alone');
$node->safe_psql('postgres', q{SELECT count(monolith.create_model('m' || i, ARRAY['a'])) FROM generate_series(1, 63) i});
is($node->safe_psql('postgres', q{SELECT count(monolith.train('m' || i, true, 1)) FROM generate_series(1, 63) i}),
	'63', 'DROP DATABASE gave back its registry entry: all 64 model slots are usable');

# Without the preload, the functions explain what is missing.
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$node->restart;
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT monolith.score('kept', 1, 1)});
isnt($ret, 0, 'scoring fails without the preload');
like($err, qr/monolith must be loaded via shared_preload_libraries/, 'error names the missing preload');
($ret, $out, $err) = $node->psql('postgres', q{SELECT monolith.create_model('other', ARRAY['a'])});
like($err, qr/monolith must be loaded via shared_preload_libraries/, 'create_model names it too');

$node->stop;
done_testing();
