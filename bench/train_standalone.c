/*
 * train_standalone.c
 *		The core's training loop alone, outside PostgreSQL: the baseline that
 *		bench/train_bench.sh sets monolith.train_query against.
 *
 * Reads examples as tab-separated lines "label user_id movie_id genres"
 * (label 0 or 1, genres '|'-separated), as the bench exports them from the
 * table train_query reads, into memory as values; then times one pass over
 * them in order, on a fresh model configured as create_model(ARRAY['user_id',
 * 'movie_id', 'genres'], dim => 16) configures one.  A pass does what
 * train_query's does once a row's values are read: makes the example's
 * feature keys (as features.c does), takes a step, adds to the log loss, and
 * at the end computes the AUC of the predictions; that AUC must equal
 * train_query's, since the keys, the steps and so the model are the same.
 *
 * Usage: train_standalone FILE [RUNS]; prints the median run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/featkey.h"
#include "../src/metrics.h"
#include "../src/model.h"
#include "../test/heap_env.h"

#define N_SLOTS 3
#define MAX_KEYS 64
#define MAX_RUNS 9

/* The examples as values: the keys are made per example in the timed loop. */
typedef struct Stream
{
	size_t		n;
	double	   *labels;
	int64_t    *users;
	int64_t    *movies;
	size_t	   *genres_at;		/* n + 1 offsets into genres */
	char	   *genres;			/* each example's genres, '\0'-separated */
	size_t		genres_len;
} Stream;

static void *
xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

/* Parses the file into values, as the table train_query reads holds them. */
static void
stream_read(Stream *s, const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[4096];
	size_t		cap = 0,
				text_cap = 0;

	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	memset(s, 0, sizeof(*s));
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *save;
		char	   *label = strtok_r(line, "\t\n", &save);
		char	   *user = strtok_r(NULL, "\t\n", &save);
		char	   *movie = strtok_r(NULL, "\t\n", &save);
		char	   *genres = strtok_r(NULL, "\t\n", &save);
		size_t		len = genres ? strlen(genres) : 0;

		if (label == NULL || user == NULL || movie == NULL)
			continue;
		if (s->n + 1 >= cap)
		{
			cap = cap ? 2 * cap : 1 << 16;
			s->labels = xrealloc(s->labels, cap * sizeof(double));
			s->users = xrealloc(s->users, cap * sizeof(int64_t));
			s->movies = xrealloc(s->movies, cap * sizeof(int64_t));
			s->genres_at = xrealloc(s->genres_at, cap * sizeof(size_t));
		}
		if (s->genres_len + len + 1 > text_cap)
		{
			text_cap = text_cap ? 2 * text_cap + len : 1 << 20;
			s->genres = xrealloc(s->genres, text_cap);
		}
		s->labels[s->n] = atof(label);
		s->users[s->n] = atoll(user);
		s->movies[s->n] = atoll(movie);
		s->genres_at[s->n] = s->genres_len;
		/* '|' separates genres in the file; '\0' does in memory. */
		for (size_t i = 0; i < len; i++)
			s->genres[s->genres_len + i] = genres[i] == '|' ? '\0' : genres[i];
		s->genres_len += len;
		s->genres[s->genres_len++] = '\0';
		s->n++;
	}
	s->genres_at[s->n] = s->genres_len;
	fclose(f);
}

/* The keys of example i, as features.c makes them from the same SQL values. */
static void
example_keys(const Stream *s, size_t i, uint64_t *keys, uint32_t *slot_end)
{
	uint32_t	k = 0;
	const char *g = s->genres + s->genres_at[i];
	const char *end = s->genres + s->genres_at[i + 1] - 1;

	keys[k++] = featkey_int(0, s->users[i]);
	slot_end[0] = k;
	keys[k++] = featkey_int(1, s->movies[i]);
	slot_end[1] = k;
	while (g < end && k < MAX_KEYS)
	{
		size_t		len = strlen(g);

		if (len > 0)
			keys[k++] = featkey_text(2, g, len);
		g += len + 1;
	}
	slot_end[2] = k;
}

/* create_model's defaults for three slots at dim 16 (see catalog.c and shmem.c). */
static void
default_config(ModelConfig *model, CuckooConfig *table)
{
	memset(model, 0, sizeof(*model));
	model->n_slots = N_SLOTS;
	model->dim = 16;
	model->embedding_optimizer = (Optimizer) {OPTIM_ADAGRAD, 0.05f, 0, 0};
	model->weight_optimizer = model->embedding_optimizer;
	model->dense_optimizer = (Optimizer) {OPTIM_ADAM, 0.001f, 0, 0};
	model->init_scale = 0.01f;
	model->negative_rate = 1;
	model->seed = 42;
	ck_default_config(table, 0);
	table->n_stripes = 64;
	table->admission.seed = 42;
}

static double
seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One timed pass on a fresh model; returns seconds, fills the AUC and log loss. */
static double
run(const Stream *s, double *auc, double *log_loss)
{
	ModelConfig config;
	CuckooConfig table;
	HeapEnv		heap;
	Model		model;
	CuckooEntry *entries[MAX_KEYS];
	uint64_t	keys[MAX_KEYS];
	uint32_t	slot_end[N_SLOTS];
	float	   *floats;
	ModelWork	work;
	ScoredLabel *scored = xrealloc(NULL, s->n * sizeof(ScoredLabel));
	double		start,
				secs,
				loss = 0;

	default_config(&config, &table);
	heap_env_init(&heap, CK_LOCK_STRIPE0 + table.n_stripes, 0);
	if (!model_init(&model, &heap.env, &config, &table))
	{
		fprintf(stderr, "model_init failed\n");
		exit(1);
	}
	floats = xrealloc(NULL, model_work_floats(&config) * sizeof(float));
	work = (ModelWork) {entries, floats};

	start = seconds_now();
	for (size_t i = 0; i < s->n; i++)
	{
		Example		ex = {keys, slot_end, NULL};

		example_keys(s, i, keys, slot_end);
		scored[i].score = model_train(&model, &heap.env, &ex, s->labels[i], 1, &work);
		scored[i].label = s->labels[i];
		loss += metrics_log_loss(scored[i].score, scored[i].label);
	}
	*auc = metrics_auc(scored, s->n);
	*log_loss = loss / s->n;
	secs = seconds_now() - start;

	model_destroy(&model, &heap.env);
	heap_env_free(&heap);
	free(floats);
	free(scored);
	return secs;
}

static int
by_value(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	Stream		s;
	double		secs[MAX_RUNS];
	double		auc = 0,
				log_loss = 0;
	int			runs = argc > 2 ? atoi(argv[2]) : 3;

	if (argc < 2 || runs < 1 || runs > MAX_RUNS)
	{
		fprintf(stderr, "usage: %s FILE [RUNS <= %d]\n", argv[0], MAX_RUNS);
		return 2;
	}
	stream_read(&s, argv[1]);
	for (int r = 0; r < runs; r++)
		secs[r] = run(&s, &auc, &log_loss);
	qsort(secs, runs, sizeof(double), by_value);
	/* One line for the bench to load: examples, seconds, rate, AUC, log loss. */
	printf("%zu\t%.6f\t%.0f\t%.15f\t%.15f\n", s.n, secs[runs / 2], s.n / secs[runs / 2],
		   auc, log_loss);
	return 0;
}
