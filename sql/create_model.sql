-- Creating, listing and dropping models; definitions are transactional.
CREATE EXTENSION monolith;

SELECT monolith.create_model('movies', slots => ARRAY['user_id', 'movie_id', 'genres'],
       dim => 16, learning_rate => 0.05, min_count => 1, admit_probability => 1.0);
SELECT name, slots, dim, learning_rate, min_count, admit_probability, seed,
       ids, examples_trained, evicted
  FROM monolith.models;

-- defaults
SELECT monolith.create_model('small', ARRAY['a']);
SELECT name, dim, learning_rate, min_count, admit_probability, seed
  FROM monolith.models ORDER BY name;

-- a model takes shared memory when created, and gives it back when dropped
SELECT memory_bytes > 0 AS has_memory, ids FROM monolith.models WHERE name = 'small';
SELECT monolith.train('small', true, 1);
SELECT ids, memory_bytes > 0 AS has_memory, examples_trained
  FROM monolith.models WHERE name = 'small';
SELECT count(*) AS live_states FROM monolith.model_stats();
SELECT monolith.drop_model('small');
SELECT name FROM monolith.models;
SELECT count(*) AS live_states FROM monolith.model_stats();

-- a model created in a transaction that rolls back leaves nothing behind
BEGIN;
SELECT monolith.create_model('scratch', ARRAY['a']);
SELECT monolith.train('scratch', true, 1);
SELECT count(*) AS live_states FROM monolith.model_stats();
ROLLBACK;
SELECT count(*) AS models FROM monolith.models WHERE name = 'scratch';
SELECT count(*) AS live_states FROM monolith.model_stats();

-- a drop that rolls back keeps the parameters
SELECT round(monolith.train('movies', true, 1, 10, ARRAY['Comedy', 'Drama'])::numeric, 4);
BEGIN;
SELECT monolith.drop_model('movies');
ROLLBACK;
SELECT ids, examples_trained FROM monolith.models WHERE name = 'movies';

-- so does a drop in a subtransaction that rolls back
BEGIN;
SAVEPOINT s;
SELECT monolith.drop_model('movies');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT ids, examples_trained FROM monolith.models WHERE name = 'movies';

-- a drop in a committed subtransaction frees the parameters at commit
BEGIN;
SAVEPOINT s;
SELECT monolith.drop_model('movies');
RELEASE SAVEPOINT s;
COMMIT;
SELECT count(*) AS live_states FROM monolith.model_stats();

-- the name can be reused, and the new model starts empty
SELECT monolith.create_model('movies', ARRAY['user_id', 'movie_id', 'genres']);
SELECT ids, examples_trained FROM monolith.models WHERE name = 'movies';
SELECT monolith.drop_model('movies');
