/*
 * test_model.c
 *		Unit tests of the model on the cuckoo table: learning, reproducibility,
 *		admission, pooling, every sparse optimizer, the DeepFM gradient against
 *		finite differences, the tower's use of numeric features, hashed rows,
 *		and calibration under negative sampling.
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "../src/featkey.h"
#include "../src/metrics.h"
#include "../src/model.h"
#include "../src/model_sync.h"
#include "../src/sync_format.h"
#include "heap_env.h"
#include "unit.h"

#define SLOTS 2
#define DIM 8

typedef struct Fixture
{
	HeapEnv		heap;
	Model		model;
	ModelSnapshot snapshot;
	CuckooEntry *entries[16];
	float	   *floats;
	ModelWork	work;
	float		numeric[2];
} Fixture;

/* The plain FM of these tests: two slots, Adagrad. */
static ModelConfig
fm_config(uint64_t seed)
{
	ModelConfig c;

	memset(&c, 0, sizeof(c));
	c.n_slots = SLOTS;
	c.dim = DIM;
	c.weight_optimizer = c.embedding_optimizer = (Optimizer) {OPTIM_ADAGRAD, 0.1f, 0, 0};
	c.dense_optimizer = (Optimizer) {OPTIM_ADAM, 0.01f, 0, 0};
	c.init_scale = 0.01f;
	c.negative_rate = 1;
	c.seed = seed;
	return c;
}

/* Whether fixtures' envs offer reads without the table lock, through a view. */
static bool unlocked_reads;

/* Predictions answered without the table lock, and the env's own read_end. */
static uint64_t unlocked_answers;
static bool (*env_read_end) (void *lock_ctx, uint64_t token);

static bool
counting_read_end(void *lock_ctx, uint64_t token)
{
	bool		unchanged = env_read_end(lock_ctx, token);

	if (unchanged)
		__atomic_add_fetch(&unlocked_answers, 1, __ATOMIC_RELAXED);
	return unchanged;
}

/* Makes an env offer unlocked reads through a view, counting their answers. */
static void
allow_unlocked_reads(HeapEnv *h)
{
	heap_env_use_view(h);
	heap_env_allow_unlocked_reads(h);
	env_read_end = h->env.read_end;
	h->env.read_end = counting_read_end;
}

/* A model of this configuration on a table of table_config's. */
static void
fixture_init_table(Fixture *f, const ModelConfig *config, const CuckooConfig *table_config)
{
	heap_env_init(&f->heap, CK_LOCK_STRIPE0 + 64, 0);
	if (unlocked_reads)
		allow_unlocked_reads(&f->heap);
	CHECK(model_init(&f->model, &f->heap.env, config, table_config), "model_init");
	model_snapshot(&f->snapshot, &f->model, &f->heap.env);
	f->floats = calloc(model_work_floats(config), sizeof(float));
	f->work = (ModelWork) {f->entries, f->floats};
	memset(f->numeric, 0, sizeof(f->numeric));
}

static void
fixture_init(Fixture *f, const ModelConfig *config, uint32_t min_count)
{
	CuckooConfig c;

	ck_default_config(&c, 0);
	c.admission.min_count = min_count;
	fixture_init_table(f, config, &c);
}

static void
fixture_free(Fixture *f)
{
	model_destroy(&f->model, &f->heap.env);
	heap_env_free(&f->heap);
	free(f->floats);
}

/* A two-slot example: one user, and one or two items. */
static double
step(Fixture *f, bool train, double label, int64_t user, int64_t item, int64_t item2)
{
	uint64_t	keys[3] = {featkey_int(0, user), featkey_int(1, item), featkey_int(1, item2)};
	uint32_t	slot_end[SLOTS] = {1, item2 < 0 ? 2 : 3};
	Example		ex = {keys, slot_end, f->numeric};

	return train ? model_train(&f->model, &f->heap.env, &ex, label, 1, &f->work)
		: model_predict(&f->model, &f->snapshot, &f->heap.env, &ex, &f->work);
}

/* Users like items of their own parity: only the interaction can learn it. */
static double
parity_label(uint64_t i, int64_t *user, int64_t *item)
{
	*user = (int64_t) (ck_mix64(i) % 40);
	*item = (int64_t) (ck_mix64(i + 77777) % 60);
	return (*user + *item) % 2 == 0 ? 1.0 : 0.0;
}

/* Held-out AUC of the parity task after n training steps. */
static double
parity_auc(Fixture *f, uint64_t n)
{
	ScoredLabel held_out[400];

	for (uint64_t i = 0; i < n; i++)
	{
		int64_t		u,
					it;
		double		y = parity_label(i, &u, &it);

		step(f, true, y, u, it, -1);
	}
	for (int i = 0; i < 400; i++)
	{
		int64_t		u,
					it;
		double		y = parity_label(100000 + i, &u, &it);

		held_out[i] = (ScoredLabel) {step(f, false, 0, u, it, -1), y};
	}
	return metrics_auc(held_out, 400);
}

/* Online training lowers log loss and ranks held-out pairs well. */
static void
test_learns(void)
{
	Fixture		f;
	ModelConfig c = fm_config(7);
	double		early = 0,
				late = 0;

	fixture_init(&f, &c, 1);
	for (uint64_t i = 0; i < 20000; i++)
	{
		int64_t		u,
					it;
		double		y = parity_label(i, &u, &it);
		double		p = step(&f, true, y, u, it, -1);

		if (i < 1000)
			early += metrics_log_loss(p, y);
		if (i >= 19000)
			late += metrics_log_loss(p, y);
	}
	CHECK(late < early * 0.5, "log loss %g early, %g late", early / 1000, late / 1000);
	CHECK(parity_auc(&f, 0) > 0.95, "held-out AUC %g", parity_auc(&f, 0));
	CHECK(f.model.examples == 20000, "examples %lu", (unsigned long) f.model.examples);
	CHECK(f.model.table.live == 100, "one entry per user and item: %lu", (unsigned long) f.model.table.live);
	fixture_free(&f);
}

/* Every sparse optimizer learns the interaction. */
static void
test_sparse_optimizers(void)
{
	for (int k = 0; k < OPTIM_N_KINDS; k++)
	{
		Fixture		f;
		ModelConfig c = fm_config(7);
		double		auc;

		c.weight_optimizer.kind = c.embedding_optimizer.kind = (OptimizerKind) k;
		if (k == OPTIM_SGD || k == OPTIM_ADAM)
			c.weight_optimizer.learning_rate = c.embedding_optimizer.learning_rate = 0.05f;
		fixture_init(&f, &c, 1);
		auc = parity_auc(&f, 20000);
		CHECK(auc > 0.9, "%s: held-out AUC %g", optim_name(c.embedding_optimizer.kind), auc);
		fixture_free(&f);
	}
}

/* The same seed and stream give bit-identical predictions; another seed does not. */
static void
test_reproducible(void)
{
	Fixture		a,
				b,
				c;
	ModelConfig ca = fm_config(11);
	ModelConfig cc = fm_config(12);
	uint64_t	differ_ab = 0,
				differ_ac = 0;

	ca.n_layers = 1;
	ca.width[0] = 8;
	cc.n_layers = 1;
	cc.width[0] = 8;
	fixture_init(&a, &ca, 1);
	fixture_init(&b, &ca, 1);
	fixture_init(&c, &cc, 1);
	for (uint64_t i = 0; i < 3000; i++)
	{
		int64_t		u,
					it;
		double		y = parity_label(i, &u, &it);
		double		pa = step(&a, true, y, u, it, -1);
		double		pb = step(&b, true, y, u, it, -1);
		double		pc = step(&c, true, y, u, it, -1);

		differ_ab += memcmp(&pa, &pb, sizeof(double)) != 0;
		differ_ac += pa != pc;
	}
	CHECK(differ_ab == 0, "%lu predictions differ under the same seed", (unsigned long) differ_ab);
	CHECK(differ_ac > 2900, "only %lu predictions differ under another seed", (unsigned long) differ_ac);
	fixture_free(&a);
	fixture_free(&b);
	fixture_free(&c);
}

/* Predicting changes nothing: no entries, no counts, no values. */
static void
test_predict_is_read_only(void)
{
	Fixture		f;
	ModelConfig c = fm_config(3);
	CuckooEntry *e;
	char		before[512];
	double		p1,
				p2;

	fixture_init(&f, &c, 1);
	step(&f, true, 1, 1, 2, -1);
	e = ck_find(&f.model.table, &f.heap.env, featkey_int(0, 1));
	memcpy(before, e, f.model.table.entry_size);
	p1 = step(&f, false, 0, 1, 2, -1);
	p2 = step(&f, false, 0, 1, 2, -1);
	step(&f, false, 0, 5, 6, -1);
	CHECK(p1 == p2, "repeated prediction differs");
	CHECK(memcmp(before, e, f.model.table.entry_size) == 0, "prediction changed an entry");
	CHECK(f.model.table.live == 2, "prediction added entries (%lu)", (unsigned long) f.model.table.live);
	CHECK(f.model.examples == 1, "prediction counted as training");
	fixture_free(&f);
}

/*
 * A prediction is the one a training step makes before its update, to the
 * bit: for widths with unrolled loops (8, 16) and without (5, with a tail),
 * for the FM, which reads embeddings in place, and the DeepFM, which pools
 * them into its input, both with a numeric feature; with one admitted ID in
 * a slot, two, one of each, or none.
 */
static void
test_predict_matches_training(void)
{
	const uint32_t dims[] = {DIM, 16, 5};

	for (int d = 0; d < 3; d++)
		for (int layers = 0; layers <= 1; layers++)
		{
			Fixture		f;
			ModelConfig c = fm_config(11);
			int			differ = 0;

			c.dim = dims[d];
			c.n_numeric = 1;
			c.n_layers = (uint32_t) layers;
			c.width[0] = 4;
			fixture_init(&f, &c, 2);
			/* Every user and item seen twice, so admitted, before the comparison. */
			for (int64_t i = 0; i < 400; i++)
				step(&f, true, (double) (i % 2), i % 30, i % 200, -1);
			for (uint64_t i = 0; i < 600; i++)
			{
				int64_t		user = (int64_t) (ck_mix64(i) % 30);
				/* Items never seen before stay unadmitted, in training too. */
				int64_t		item = i % 4 == 0 ? 1000 + (int64_t) i : (int64_t) (ck_mix64(i + 1) % 200);
				int64_t		item2 = i % 3 == 0 ? (int64_t) (ck_mix64(i + 2) % 200) : -1;
				double		predicted;

				f.numeric[0] = (float) (i % 5) * 0.25f;
				predicted = step(&f, false, 0, user, item, item2);

				differ += predicted != step(&f, true, (double) (i % 2), user, item, item2);
			}
			CHECK(differ == 0, "dim %u, %d layers: %d predictions differ from training's",
				  dims[d], layers, differ);
			fixture_free(&f);
		}
}

typedef struct Predictor
{
	Model	   *model;
	const ModelSnapshot *snapshot;
	CoreEnv		env;			/* the shared env with a view of its own */
	const bool *stop;
	int64_t		ids;			/* predicts users and items 0 .. ids-1 */
	uint64_t	predictions;
	uint64_t	invalid;		/* not a probability */
} Predictor;

/* Predicts known pairs until told to stop, as a scoring backend does. */
static void *
predict_until_stopped(void *arg)
{
	Predictor  *p = arg;
	CuckooEntry *entries[4];
	float	   *floats = calloc(model_work_floats(&p->snapshot->shape.config), sizeof(float));
	ModelWork	work = {entries, floats};
	float		numeric[1] = {0};

	for (uint64_t i = 0; !__atomic_load_n(p->stop, __ATOMIC_RELAXED); i++)
	{
		uint64_t	keys[2] = {featkey_int(0, (int64_t) (i % (uint64_t) p->ids)),
							   featkey_int(1, (int64_t) (ck_mix64(i) % (uint64_t) p->ids))};
		uint32_t	slot_end[SLOTS] = {1, 2};
		Example		ex = {keys, slot_end, numeric};
		double		q = model_predict(p->model, p->snapshot, &p->env, &ex, &work);

		p->predictions++;
		p->invalid += !(q > 0 && q < 1);
	}
	free(floats);
	return NULL;
}

#define PREDICTORS 2

/* Starts PREDICTORS threads predicting pairs of IDs below ids from f's model. */
static void
predictors_start(Predictor *p, pthread_t *threads, Fixture *f, const bool *stop, int64_t ids)
{
	for (int t = 0; t < PREDICTORS; t++)
	{
		p[t] = (Predictor) {&f->model, &f->snapshot, f->heap.env, stop, ids, 0, 0};
		p[t].env.view = calloc(1, sizeof(CuckooView));
		pthread_create(&threads[t], NULL, predict_until_stopped, &p[t]);
	}
}

/* Waits for the predictors, once told to stop; every prediction must be a probability. */
static void
predictors_finish(Predictor *p, pthread_t *threads)
{
	for (int t = 0; t < PREDICTORS; t++)
	{
		pthread_join(threads[t], NULL);
		CHECK(p[t].invalid == 0, "%lu of %lu predictions were no probability",
			  (unsigned long) p[t].invalid, (unsigned long) p[t].predictions);
		free(p[t].env.view);
	}
}

/*
 * Predictions without the table lock, made while a trainer grows the index,
 * evicts at a memory cap and so reuses entries, are always probabilities
 * (AddressSanitizer watching every read), and many come without the lock.
 */
static void
test_predict_unlocked_under_training(void)
{
	Fixture		f;
	ModelConfig c = fm_config(21);
	pthread_t	threads[PREDICTORS];
	Predictor	predictors[PREDICTORS];
	bool		stop = false;

	unlocked_reads = true;
	fixture_init(&f, &c, 1);
	unlocked_reads = false;
	f.heap.cap = 1 << 20;
	unlocked_answers = 0;
	predictors_start(predictors, threads, &f, &stop, 3000);
	/* Users and items keep coming: the index grows, then the cap evicts. */
	for (int64_t i = 0; i < 60000; i++)
		step(&f, true, (double) (i % 2), i % 500, i % 20000, -1);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	predictors_finish(predictors, threads);
	CHECK(f.model.table.evicted > 0, "the cap evicted nothing");
	CHECK(unlocked_answers > 0, "no prediction was made without the lock");
	fixture_free(&f);
}

typedef struct Scribbler
{
	Model	   *model;
	const CoreEnv *env;
	CuckooEntry **entries;		/* whose first embedding float it spoils */
	int			n_entries;
	const bool *stop;
	uint64_t	rounds;
} Scribbler;

/*
 * Holds the table lock exclusive, again and again, with every given entry's
 * first embedding float NaN, put right before the lock is let go: a writer
 * whose work no reader may ever see half done.
 */
static void *
scribble_until_stopped(void *arg)
{
	Scribbler  *w = arg;
	float	   *saved = calloc(w->n_entries, sizeof(float));

	while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED))
	{
		w->env->lock(w->env->lock_ctx, CK_LOCK_TABLE, true);
		for (int i = 0; i < w->n_entries; i++)
		{
			float	   *e = (float *) CK_VALUE(w->entries[i]) + w->model->embedding_at;

			saved[i] = e[0];
			__atomic_store_n((uint32_t *) e, 0x7fc00000u, __ATOMIC_RELAXED);	/* NaN */
		}
		/* Long enough for readers to be caught in the middle. */
		for (volatile int spin = 0; spin < 2000; spin++)
			;
		for (int i = 0; i < w->n_entries; i++)
		{
			float	   *e = (float *) CK_VALUE(w->entries[i]) + w->model->embedding_at;
			uint32_t	bits;

			memcpy(&bits, &saved[i], sizeof(bits));
			__atomic_store_n((uint32_t *) e, bits, __ATOMIC_RELAXED);
		}
		w->env->unlock(w->env->lock_ctx, CK_LOCK_TABLE);
		w->rounds++;
	}
	free(saved);
	return NULL;
}

/*
 * A prediction made without the lock never keeps what it read while a writer
 * held the lock exclusive: with a writer that leaves entries NaN inside its
 * exclusive sections, no prediction is NaN, and many still come unlocked.
 */
static void
test_predict_unlocked_never_sees_writers(void)
{
	Fixture		f;
	ModelConfig c = fm_config(23);
	CuckooEntry *entries[60];
	Predictor	predictors[PREDICTORS];
	Scribbler	scribbler;
	pthread_t	threads[PREDICTORS];
	pthread_t	scribbling;
	bool		stop = false;

	unlocked_reads = true;
	fixture_init(&f, &c, 1);
	unlocked_reads = false;
	for (int64_t i = 0; i < 3000; i++)
		step(&f, true, (double) (i % 2), i % 500, i % 3000, -1);
	for (int i = 0; i < 60; i++)
		entries[i] = ck_find(&f.model.table, &f.heap.env, featkey_int(i < 30 ? 0 : 1, i % 30));
	unlocked_answers = 0;
	scribbler = (Scribbler) {&f.model, &f.heap.env, entries, 60, &stop, 0};
	predictors_start(predictors, threads, &f, &stop, 30);
	pthread_create(&scribbling, NULL, scribble_until_stopped, &scribbler);
	while (__atomic_load_n(&scribbler.rounds, __ATOMIC_RELAXED) < 20000)
		sched_yield();
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	pthread_join(scribbling, NULL);
	/* A prediction that kept a writer's NaN is no probability. */
	predictors_finish(predictors, threads);
	CHECK(unlocked_answers > 0, "no prediction was made without the lock");
	fixture_free(&f);
}

/* Unadmitted IDs neither score nor learn; admitted ones do. */
static void
test_unadmitted_contribute_nothing(void)
{
	Fixture		f;
	ModelConfig c = fm_config(3);
	double		p;

	fixture_init(&f, &c, 2);
	p = step(&f, true, 1, 1, 2, -1);
	CHECK(p == 0.5, "first prediction %g is the untrained bias", p);
	CHECK(f.model.table.live == 0, "first sighting admits nothing");
	p = step(&f, false, 0, 1, 2, -1);
	CHECK(fabs(p - 1.0 / (1.0 + exp(-f.model.bias[0]))) < 1e-8, "unadmitted keys score as the bias alone");
	/* User 1's second sighting admits it, while item 3, seen once, stays out. */
	step(&f, true, 1, 1, 3, -1);
	CHECK(f.model.table.live == 1, "only the twice-seen key is admitted (%lu)",
		  (unsigned long) f.model.table.live);
	CHECK(ck_find(&f.model.table, &f.heap.env, featkey_int(1, 3)) == NULL, "item 3 not admitted");
	fixture_free(&f);
}

/*
 * Predictions are the logistic function of the logit to a float's precision
 * across the range, here of logits made of the bias alone, and saturate
 * beyond it without overflow.
 */
static void
test_probability_accuracy(void)
{
	Fixture		f;
	ModelConfig c = fm_config(3);
	double		worst = 0;

	fixture_init(&f, &c, 2);
	for (double logit = -690; logit <= 690; logit += 0.0173)
	{
		double		exact;
		double		error;

		f.model.bias[0] = (float) logit;
		exact = 1.0 / (1.0 + exp(-(double) f.model.bias[0]));
		error = fabs(step(&f, false, 0, 1, 2, -1) - exact) / exact;
		if (!(error <= worst))	/* a NaN too */
			worst = error;
	}
	CHECK(worst < 1e-8, "relative error of a prediction up to %g", worst);
	f.model.bias[0] = 1e30f;
	CHECK(step(&f, false, 0, 1, 2, -1) == 1, "a huge logit predicts 1");
	f.model.bias[0] = -1e30f;
	CHECK(step(&f, false, 0, 1, 2, -1) < 1e-300, "a hugely negative logit predicts about 0");
	CHECK(step(&f, false, 0, 1, 2, -1) > 0, "and no less than 0");
	fixture_free(&f);
}

/*
 * The logit of an example worked out from its entries the slow way: the bias,
 * each slot's mean first-order weight, and the inner product of every pair of
 * slots' mean embeddings (IDs without an entry left out).
 */
static double
pairwise_logit(Fixture *f, const Example *ex)
{
	const Model *m = &f->model;
	double		pooled[4][32] = {{0}};
	double		logit = m->bias[0];

	for (uint32_t s = 0; s < m->config.n_slots; s++)
	{
		uint32_t	found = 0;
		double		weight = 0;

		for (uint32_t k = s == 0 ? 0 : ex->slot_end[s - 1]; k < ex->slot_end[s]; k++)
		{
			CuckooEntry *e = ck_find(&m->table, &f->heap.env, ex->keys[k]);
			const float *v = e == NULL ? NULL : (const float *) CK_VALUE(e);

			if (v == NULL)
				continue;
			found++;
			weight += v[0];
			for (uint32_t j = 0; j < m->config.dim; j++)
				pooled[s][j] += v[m->embedding_at + j];
		}
		for (uint32_t j = 0; found > 0 && j < m->config.dim; j++)
			pooled[s][j] /= found;
		logit += found > 0 ? weight / found : 0;
		for (uint32_t t = 0; t < s; t++)
			for (uint32_t j = 0; j < m->config.dim; j++)
				logit += pooled[s][j] * pooled[t][j];
	}
	return logit;
}

/*
 * Predictions are the logistic function of the pairwise logit, for one to
 * four slots of none, one or two IDs, some never admitted, at widths that are
 * and are not multiples of four, between training steps on such examples
 * (test_predict_matches_training holds training's own predictions to these).
 */
static void
test_fm_is_pairwise(void)
{
	const uint32_t dims[] = {1, 3, 5, 8, 12, 13, 16, 32};
	double		worst = 0;

	for (uint32_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
		for (uint32_t n_slots = 1; n_slots <= 4; n_slots++)
		{
			Fixture		f;
			ModelConfig c = fm_config(d * 10 + n_slots);

			c.n_slots = n_slots;
			c.dim = dims[d];
			c.init_scale = 0.5f;
			fixture_init(&f, &c, 2);
			for (uint64_t i = 0; i < 400; i++)
			{
				uint64_t	keys[8];
				uint32_t	slot_end[4];
				uint32_t	n = 0;
				Example		ex = {keys, slot_end, f.numeric};
				double		logit,
							p;

				/* Slot s holds i % 3 IDs of 12 (0, 1 or 2); min_count 2 leaves some out. */
				for (uint32_t s = 0; s < n_slots; s++)
				{
					for (uint64_t k = 0; k < (i + s) % 3; k++)
						keys[n++] = featkey_int(s, (int64_t) (ck_mix64(i * 8 + s * 2 + k) % 12));
					slot_end[s] = n;
				}
				/* Training admits IDs before it predicts: only predictions are compared. */
				if (i % 2 == 1)
				{
					model_train(&f.model, &f.heap.env, &ex, (double) (i % 4 == 1), 1, &f.work);
					continue;
				}
				logit = pairwise_logit(&f, &ex);
				p = fabs(model_predict(&f.model, &f.snapshot, &f.heap.env, &ex, &f.work) -
						 1.0 / (1.0 + exp(-logit)));
				if (!(p <= worst))
					worst = p;
			}
			fixture_free(&f);
		}
	CHECK(worst < 1e-6, "a prediction differs from the pairwise FM's by %g", worst);
}

/* A slot's IDs are mean-pooled: [a, a] predicts as [a]. */
static void
test_pooling(void)
{
	Fixture		f;
	ModelConfig c = fm_config(5);

	fixture_init(&f, &c, 1);
	for (int i = 0; i < 50; i++)
		step(&f, true, i % 2, 1, 2 + i % 3, 9);
	CHECK(step(&f, false, 0, 1, 2, 2) == step(&f, false, 0, 1, 2, -1), "duplicate ID changes pooling");
	CHECK(step(&f, false, 0, 1, 2, 9) != step(&f, false, 0, 1, 2, -1), "second ID ignored");
	fixture_free(&f);
}

/* Log loss of the model's prediction of (user 1, items 2 and 3) against label. */
static double
probe_loss(Fixture *f, double label)
{
	return metrics_log_loss(step(f, false, 0, 1, 2, 3), label);
}

/* Every parameter an example reaches, for reading and perturbing. */
static int
reached_params(Fixture *f, float **params, int max)
{
	int			n = 0;
	const int64_t ids[3][2] = {{0, 1}, {1, 2}, {1, 3}};
	float	   *dense = model_dense(&f->model, &f->heap.env);

	params[n++] = &f->model.bias[0];
	for (int i = 0; i < 3; i++)
	{
		float	   *v = CK_VALUE(ck_find(&f->model.table, &f->heap.env,
										 featkey_int((uint32_t) ids[i][0], ids[i][1])));

		for (uint32_t j = 0; j < f->model.value_floats && n < max; j++)
			params[n++] = &v[j];
	}
	for (uint32_t j = 0; j < f->model.dense_params && n < max; j++)
		params[n++] = &dense[j];
	return n;
}

/*
 * The DeepFM gradient of every parameter an example reaches matches central
 * finite differences of the loss.  Under SGD at rate 1 a step moves each
 * parameter by exactly minus its gradient, which reads the gradient out.
 */
static void
test_gradient(void)
{
	Fixture		a,
				b;
	ModelConfig c = fm_config(21);
	float	   *pa[512],
			   *pb[512];
	float		before[512];
	int			n,
				bad = 0;
	const double label = 1;
	const float h = 1e-3f;

	c.n_numeric = 2;
	c.n_layers = 2;
	c.width[0] = 8;
	c.width[1] = 4;
	c.init_scale = 0.3f;
	c.weight_optimizer = c.embedding_optimizer = c.dense_optimizer =
		(Optimizer) {OPTIM_SGD, 0.05f, 0, 0};
	fixture_init(&a, &c, 1);
	fixture_init(&b, &c, 1);
	/* Identical warm-up, so that weights and activations are not at their start. */
	for (int i = 0; i < 300; i++)
	{
		float		x[2] = {(float) (i % 7) / 7, (float) (i % 3) - 1};

		memcpy(a.numeric, x, sizeof(x));
		memcpy(b.numeric, x, sizeof(x));
		step(&a, true, i % 2, 1 + i % 3, 2 + i % 4, 3);
		step(&b, true, i % 2, 1 + i % 3, 2 + i % 4, 3);
	}
	a.numeric[0] = b.numeric[0] = 0.7f;
	a.numeric[1] = b.numeric[1] = -0.4f;

	n = reached_params(&a, pa, 512);
	CHECK(n == reached_params(&b, pb, 512) && n == 1 + 3 * 9 + (int) a.model.dense_params,
		  "%d parameters reached", n);
	for (int i = 0; i < n; i++)
		before[i] = *pa[i];
	a.model.config.weight_optimizer.learning_rate = 1;
	a.model.config.embedding_optimizer.learning_rate = 1;
	a.model.config.dense_optimizer.learning_rate = 1;
	step(&a, true, label, 1, 2, 3);

	for (int i = 0; i < n; i++)
	{
		float		saved = *pb[i];
		double		analytic = (double) before[i] - *pa[i];
		double		numeric,
					up,
					down;

		*pb[i] = saved + h;
		up = probe_loss(&b, label);
		*pb[i] = saved - h;
		down = probe_loss(&b, label);
		*pb[i] = saved;
		numeric = (up - down) / (2.0 * ((double) (saved + h) - (saved - h)) / 2.0);
		if (fabs(analytic - numeric) > 2e-3 + 0.02 * fabs(numeric))
		{
			if (bad++ < 5)
				fprintf(stderr, "parameter %d: analytic %g, numeric %g\n", i, analytic, numeric);
		}
	}
	CHECK(bad == 0, "%d of %d gradients differ from finite differences", bad, n);
	fixture_free(&a);
	fixture_free(&b);
}

/*
 * A label that depends on a numeric feature non-linearly (|x| > 0.5) is out
 * of reach of a linear weight, and within reach of the tower.
 */
static void
test_tower_learns_numeric(void)
{
	double		auc[2];

	for (int deep = 0; deep < 2; deep++)
	{
		Fixture		f;
		ModelConfig c = fm_config(9);
		ScoredLabel held_out[400];

		c.n_numeric = 1;
		c.n_layers = deep ? 2 : 0;
		c.width[0] = 16;
		c.width[1] = 8;
		fixture_init(&f, &c, 1);
		for (uint64_t i = 0; i < 40400; i++)
		{
			float		x = (float) ((ck_mix64(i) >> 11) * 0x1.0p-53 * 2 - 1);
			double		y = fabsf(x) > 0.5f;

			f.numeric[0] = x;
			if (i < 40000)
				step(&f, true, y, (int64_t) (i % 10), 0, -1);
			else
				held_out[i - 40000] = (ScoredLabel) {step(&f, false, 0, (int64_t) (i % 10), 0, -1), y};
		}
		auc[deep] = metrics_auc(held_out, 400);
		fixture_free(&f);
	}
	CHECK(auc[0] < 0.65, "linear numeric weight AUC %g", auc[0]);
	CHECK(auc[1] > 0.95, "tower AUC %g", auc[1]);
}

/* Hashed into a few shared rows, many IDs share few entries. */
static void
test_hash_rows(void)
{
	Fixture		f;
	ModelConfig c = fm_config(4);

	c.hash_rows = 16;
	fixture_init(&f, &c, 1);
	for (int i = 0; i < 1000; i++)
		step(&f, true, i % 2, i, 1000 + i, -1);
	CHECK(f.model.table.live <= 16 && f.model.table.live >= 12,
		  "2000 IDs in %lu rows", (unsigned long) f.model.table.live);
	fixture_free(&f);
}

/*
 * Users' true click rates are 2% to 20%.  Trained on every negative, or on a
 * 20% sample of them with the log-odds correction, the mean prediction on
 * held-out examples matches the observed rate; the uncorrected sampled model
 * would overshoot it about fourfold.
 */
static void
test_negative_sampling_calibration(void)
{
	double		mean_p[2],
				observed = 0;
	uint64_t	trained[2];
	const double rate = 0.2;
	const int	held = 20000;

	for (int sampled = 0; sampled < 2; sampled++)
	{
		Fixture		f;
		ModelConfig c = fm_config(13);

		c.negative_rate = sampled ? rate : 1;
		fixture_init(&f, &c, 1);
		mean_p[sampled] = 0;
		observed = 0;
		for (uint64_t i = 0; i < 200000 + held; i++)
		{
			int64_t		user = (int64_t) (ck_mix64(i) % 50);
			double		u = (double) (ck_mix64(i ^ 0xabcdef) >> 11) * 0x1.0p-53;
			double		y = u < 0.02 + 0.18 * user / 49.0;

			if (i < 200000)
				step(&f, true, y, user, 7, -1);
			else
			{
				mean_p[sampled] += step(&f, false, 0, user, 7, -1) / held;
				observed += y / held;
			}
		}
		trained[sampled] = f.model.examples;
		fixture_free(&f);
	}
	CHECK(fabs(mean_p[0] - observed) < 0.01, "unsampled: mean prediction %g, observed %g", mean_p[0], observed);
	CHECK(fabs(mean_p[1] - observed) < 0.01, "sampled: mean prediction %g, observed %g", mean_p[1], observed);
	CHECK(trained[1] < trained[0] * 0.35, "sampled model trained on %lu of %lu",
		  (unsigned long) trained[1], (unsigned long) trained[0]);
}

/*
 * A model whose weight became infinite predicts NaN and takes no step: the
 * other weights stay as they were, and no example is counted.
 */
/* Pauses between pieces, each checked to come with the table lock free. */
static int	pauses;
static int	pauses_under_lock;

static void
counting_pause(void *lock_ctx)
{
	HeapEnv    *h = lock_ctx;

	pauses++;
	pauses_under_lock += h->locks[CK_LOCK_TABLE] != 0;
}

/* An expiry takes each slot's IDs by the slot's own cutoff, and counts them. */
static void
test_expiry_by_slot(void)
{
	Fixture		f;
	ModelConfig c = fm_config(3);
	ModelExpiry expiry = {{0}};
	uint32_t	ref = 1;
	uint64_t	removed;

	fixture_init(&f, &c, 1);
	/* User and item i, both last seen at 100 + i. */
	for (int64_t i = 0; i < 100; i++)
	{
		uint64_t	keys[2] = {featkey_int(0, i), featkey_int(1, i)};
		uint32_t	slot_end[SLOTS] = {1, 2};
		Example		ex = {keys, slot_end, f.numeric};

		model_train(&f.model, &f.heap.env, &ex, 1.0, (uint32_t) (100 + i), &f.work);
	}
	expiry.cutoff[0] = 150;
	removed = model_expire(&f.model, &f.heap.env, &expiry, &ref, 1);
	CHECK(removed == 50 && ref == 0, "the users seen before 150 went in one piece: %lu, ref %u",
		  (unsigned long) removed, ref);
	CHECK(ck_find(&f.model.table, &f.heap.env, featkey_int(0, 49)) == NULL &&
		  ck_find(&f.model.table, &f.heap.env, featkey_int(0, 50)) != NULL,
		  "user 49 expired, user 50 kept");
	CHECK(ck_find(&f.model.table, &f.heap.env, featkey_int(1, 0)) != NULL,
		  "items, with no cutoff, all kept");
	expiry.cutoff[1] = UINT32_MAX;
	ref = 1;
	removed = model_expire(&f.model, &f.heap.env, &expiry, &ref, UINT32_MAX);
	CHECK(removed == 100 && f.model.table.expired == 150 && f.model.table.live == 50,
		  "then every item: %lu removed, %lu expired in all, %lu live", (unsigned long) removed,
		  (unsigned long) f.model.table.expired, (unsigned long) f.model.table.live);
	fixture_free(&f);
}

/*
 * An example of many new IDs goes in pieces, the table lock let go between
 * them, and still trains every one of its IDs once.
 */
static void
test_many_ids_in_pieces(void)
{
	enum
	{
		N = 5000
	};
	Fixture		f;
	ModelConfig c = fm_config(3);
	uint64_t   *keys = malloc(sizeof(uint64_t) * (N + 1));
	CuckooEntry **entries = malloc(sizeof(CuckooEntry *) * (N + 1));
	uint32_t	slot_end[SLOTS] = {1, N + 1};
	Example		ex = {keys, slot_end, f.numeric};
	ModelWork	work;
	uint64_t	touched_alike = 0;
	double		p;

	fixture_init(&f, &c, 1);
	work = (ModelWork) {entries, f.floats};
	keys[0] = featkey_int(0, 1);
	for (uint32_t i = 1; i <= N; i++)
		keys[i] = featkey_int(1, i);
	pauses = pauses_under_lock = 0;
	f.heap.env.between_pieces = counting_pause;
	p = model_train(&f.model, &f.heap.env, &ex, 1.0, 1, &work);
	CHECK(p > 0 && p < 1, "prediction %g", p);
	CHECK(f.model.table.live == N + 1, "%lu IDs live", (unsigned long) f.model.table.live);
	CHECK(pauses >= N / 1024, "%d pauses", pauses);
	CHECK(pauses_under_lock == 0, "%d pauses with the table lock held", pauses_under_lock);
	for (uint32_t i = 0; i <= N; i++)
	{
		CuckooEntry *e = ck_find(&f.model.table, &f.heap.env, keys[i]);

		touched_alike += e != NULL &&
			(e->meta & CK_META_COUNT) == (ck_find(&f.model.table, &f.heap.env, keys[0])->meta & CK_META_COUNT);
	}
	CHECK(touched_alike == N + 1, "%lu of %d IDs trained as the first was",
		  (unsigned long) touched_alike, N + 1);
	CHECK(model_predict(&f.model, &f.snapshot, &f.heap.env, &ex, &work) > p,
		  "the step on a positive raised its prediction");

	/* Expiry goes in pieces too, and lets the lock go between them. */
	pauses = pauses_under_lock = 0;
	{
		ModelExpiry all;
		uint32_t	ref = 1;

		for (int s = 0; s < MODEL_MAX_SLOTS; s++)
			all.cutoff[s] = 2;
		CHECK(model_expire(&f.model, &f.heap.env, &all, &ref, UINT32_MAX) == N + 1 && ref == 0,
			  "expired all");
	}
	CHECK(pauses_under_lock == 0, "%d pauses of expiry with the table lock held", pauses_under_lock);
	fixture_free(&f);
	free(keys);
	free(entries);
}

static void
test_diverged_takes_no_step(void)
{
	Fixture		f;
	ModelConfig c = fm_config(6);
	float	   *user;
	float	   *item;
	char		before[512];

	fixture_init(&f, &c, 1);
	step(&f, true, 1, 1, 2, -1);
	user = CK_VALUE(ck_find(&f.model.table, &f.heap.env, featkey_int(0, 1)));
	item = CK_VALUE(ck_find(&f.model.table, &f.heap.env, featkey_int(1, 2)));
	user[f.model.embedding_at] = INFINITY;
	memcpy(before, item, f.model.value_floats * sizeof(float));
	CHECK(isnan(step(&f, false, 0, 1, 2, -1)), "prediction of a diverged model is NaN");
	CHECK(isnan(step(&f, true, 1, 1, 2, -1)), "training on it predicts NaN too");
	CHECK(memcmp(before, item, f.model.value_floats * sizeof(float)) == 0,
		  "no step was taken on the other weights");
	CHECK(f.model.examples == 1, "the refused step is not counted");
	CHECK(!isnan(step(&f, true, 1, 5, 6, -1)), "examples not reaching the bad weight still train");
	fixture_free(&f);
}

/* Whether key has the same entry, values and all, in both models. */
static bool
same_entry(Fixture *a, Fixture *b, uint64_t key)
{
	CuckooEntry *x = ck_find(&a->model.table, &a->heap.env, key);
	CuckooEntry *y = ck_find(&b->model.table, &b->heap.env, key);

	if (x == NULL || y == NULL)
		return x == y;
	return x->meta == y->meta && x->last_seen == y->last_seen &&
		memcmp(CK_VALUE(x), CK_VALUE(y), a->model.value_floats * sizeof(float)) == 0;
}

/*
 * Training in batches (model_train_batch, which steps on copies of the
 * entries that repeat in a round of batches, and of the bias) predicts and
 * learns bit for bit what one example a call does, once flushed: for every
 * optimizer, with sampled negatives, admission by count and the table
 * growing meanwhile.
 */
static void
test_batch_matches_single_steps(void)
{
	static const OptimizerKind kinds[] = {OPTIM_SGD, OPTIM_ADAGRAD, OPTIM_FTRL, OPTIM_ADAM};

	for (int o = 0; o < 4; o++)
	{
		Fixture		single;
		Fixture		batched;
		ModelConfig c = fm_config(11 + o);
		void	   *scratch;
		bool		same_predictions = true;
		bool		same_entries = true;
		bool		all_done = true;

		c.weight_optimizer.kind = c.embedding_optimizer.kind = kinds[o];
		c.negative_rate = 0.5;
		fixture_init(&single, &c, 2);
		fixture_init(&batched, &c, 2);
		scratch = calloc(1, model_batch_scratch_bytes(&batched.model));
		for (uint64_t i = 0; i < 8000;)
		{
			uint64_t	keys[16][3];
			uint32_t	slot_end[16][SLOTS];
			Example		exs[16];
			double		labels[16];
			double		predictions[16];
			uint32_t	n = 1 + ck_mix64(i * 31 + o) % 16;

			for (uint32_t b = 0; b < n; b++, i++)
			{
				/* Many users, who come back now and then; few items, which repeat. */
				int64_t		user = (int64_t) (ck_mix64(i) % 3000);
				int64_t		item = (int64_t) (ck_mix64(i + 5) % 7);

				keys[b][0] = featkey_int(0, user);
				keys[b][1] = featkey_int(1, item);
				keys[b][2] = featkey_int(1, (item + 1) % 7);
				slot_end[b][0] = 1;
				slot_end[b][1] = i % 3 == 0 ? 3 : 2;
				exs[b] = (Example) {keys[b], slot_end[b], single.numeric};
				labels[b] = (user + item) % 2 == 0;
			}
			all_done &= model_train_batch(&batched.model, &batched.heap.env, exs, labels, n,
										  (uint32_t) (i / 1000), &batched.work, scratch,
										  predictions) == n;
			for (uint32_t b = 0; b < n; b++)
				same_predictions &= model_train(&single.model, &single.heap.env, &exs[b], labels[b],
												(uint32_t) (i / 1000), &single.work) == predictions[b];
		}
		model_train_flush(&batched.model, &batched.heap.env, scratch);
		for (int64_t user = 0; user < 3000; user++)
			same_entries &= same_entry(&single, &batched, featkey_int(0, user));
		for (int64_t item = 0; item < 7; item++)
			same_entries &= same_entry(&single, &batched, featkey_int(1, item));
		CHECK(all_done, "every batch went through");
		CHECK(same_predictions, "batches predict what single steps do (optimizer %d)", o);
		CHECK(same_entries, "and leave the same entries, bit for bit (optimizer %d)", o);
		CHECK(memcmp(single.model.bias, batched.model.bias, sizeof(single.model.bias)) == 0 &&
			  single.model.examples == batched.model.examples &&
			  single.model.table.live == batched.model.table.live,
			  "the same bias, steps and IDs (optimizer %d)", o);
		free(scratch);
		fixture_free(&single);
		fixture_free(&batched);
	}
}

/*
 * Between two batches: what another process does to both models alike,
 * the table lock held exclusive.
 */
typedef uint64_t (*BetweenBatches) (Fixture *f, uint64_t batch);

/* Deletes an item after every third batch; returns how many it deleted. */
static uint64_t
delete_an_item(Fixture *f, uint64_t batch)
{
	if (batch % 3 != 1)
		return 0;
	return ck_delete(&f->model.table, &f->heap.env, featkey_int(1, (int64_t) (batch / 3 % 5)));
}

/*
 * Gives back the arena's last chunk after every other batch, moving its
 * live entries down (or evicting where none are free); returns the bytes.
 */
static uint64_t
give_back_a_chunk(Fixture *f, uint64_t batch)
{
	if (batch % 2 != 1)
		return 0;
	return model_shrink(&f->model, &f->heap.env, 2 * ck_chunk_bytes(&f->model.table), 1024);
}

/* Runs between() on f's model under its table lock, exclusive. */
static uint64_t
exclusively(BetweenBatches between, Fixture *f, uint64_t batch)
{
	const CoreEnv *env = &f->heap.env;
	uint64_t	done;

	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
	done = between(f, batch);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	return done;
}

/*
 * A round of batches outlives a call, and between two calls others may
 * free or move the entries of its copies (between(), done to both models
 * alike, returns what it did, summed into *done): the batched model still
 * predicts and ends bit for bit as single steps do, once flushed, with the
 * clock still so that evictions choose alike.  Returns the batched model's
 * relocations.
 */
static uint64_t
check_round_outlives(const char *what, const CuckooConfig *table_config, uint32_t users,
					 BetweenBatches between, uint64_t *done)
{
	Fixture		single;
	Fixture		batched;
	ModelConfig c = fm_config(29);
	void	   *scratch;
	bool		same_predictions = true;
	bool		same_entries = true;
	uint64_t	relocations;

	fixture_init_table(&single, &c, table_config);
	fixture_init_table(&batched, &c, table_config);
	scratch = calloc(1, model_batch_scratch_bytes(&batched.model));
	*done = 0;
	for (uint64_t i = 0, batch = 0; i < 1600; batch++)
	{
		uint64_t	keys[16][2];
		uint32_t	slot_end[16][SLOTS];
		Example		exs[16];
		double		labels[16];
		double		predictions[16];

		for (uint32_t b = 0; b < 16; b++, i++)
		{
			keys[b][0] = featkey_int(0, (int64_t) (i % users));
			keys[b][1] = featkey_int(1, (int64_t) (ck_mix64(i) % 5));
			slot_end[b][0] = 1;
			slot_end[b][1] = 2;
			exs[b] = (Example) {keys[b], slot_end[b], single.numeric};
			labels[b] = ck_mix64(i + 3) % 2;
		}
		model_train_batch(&batched.model, &batched.heap.env, exs, labels, 16, 1, &batched.work,
						  scratch, predictions);
		for (uint32_t b = 0; b < 16; b++)
			same_predictions &= model_train(&single.model, &single.heap.env, &exs[b], labels[b], 1,
											&single.work) == predictions[b];
		*done += exclusively(between, &batched, batch);
		(void) exclusively(between, &single, batch);
	}
	model_train_flush(&batched.model, &batched.heap.env, scratch);
	for (int64_t user = 0; user < users; user++)
		same_entries &= same_entry(&single, &batched, featkey_int(0, user));
	for (int64_t item = 0; item < 5; item++)
		same_entries &= same_entry(&single, &batched, featkey_int(1, item));
	CHECK(same_predictions, "batches with %s between them predict what single steps do", what);
	CHECK(same_entries, "and leave the same entries, bit for bit (%s)", what);
	CHECK(memcmp(single.model.bias, batched.model.bias, sizeof(single.model.bias)) == 0 &&
		  single.model.table.live == batched.model.table.live, "the same bias and IDs (%s)", what);
	relocations = batched.model.table.relocations;
	free(scratch);
	fixture_free(&single);
	fixture_free(&batched);
	return relocations;
}

/*
 * Items deleted between batches: the copies of deleted items are dropped,
 * as their steps in place would be, and the items admitted anew are copied
 * anew.  The arena giving back chunks between batches: entries move down
 * and the chunk is freed, and the copies' entries are found where they went
 * (AddressSanitizer would see a merge into the freed chunk).
 */
static void
test_round_outlives_relocations(void)
{
	CuckooConfig tc;
	uint64_t	deleted;
	uint64_t	given_back;
	uint64_t	relocations;

	ck_default_config(&tc, 0);
	tc.admission.min_count = 1;
	relocations = check_round_outlives("deletions", &tc, 400, delete_an_item, &deleted);
	CHECK(deleted == 33 && relocations == 33, "every deletion found its item, and was counted");
	tc.chunk_log2 = 4;
	relocations = check_round_outlives("chunks given back", &tc, 60, give_back_a_chunk, &given_back);
	CHECK(given_back > 0 && relocations > 0, "chunks were given back, their entries moved");
}

typedef struct BatchTrainer
{
	Model	   *model;
	CoreEnv		env;
	int64_t		first_user;		/* users of its own; items shared with the other */
	uint64_t	done;
} BatchTrainer;

static void *
train_batches(void *arg)
{
	BatchTrainer *t = arg;
	CuckooEntry *entries[8];
	float	   *floats = calloc(model_work_floats(&t->model->config), sizeof(float));
	void	   *scratch = calloc(1, model_batch_scratch_bytes(t->model));
	ModelWork	work = {entries, floats};
	float		numeric[1] = {0};

	for (uint64_t i = 0; i < 40000; i += 16)
	{
		uint64_t	keys[16][2];
		uint32_t	slot_end[16][SLOTS];
		Example		exs[16];
		double		labels[16];
		double		predictions[16];

		for (int b = 0; b < 16; b++)
		{
			keys[b][0] = featkey_int(0, t->first_user + (int64_t) ((i + b) % 20000));
			keys[b][1] = featkey_int(1, (int64_t) (ck_mix64(i + b) % 5));
			slot_end[b][0] = 1;
			slot_end[b][1] = 2;
			exs[b] = (Example) {keys[b], slot_end[b], numeric};
			labels[b] = (i + b) % 2;
		}
		t->done += model_train_batch(t->model, &t->env, exs, labels, 16, 1, &work, scratch,
									 predictions);
	}
	model_train_flush(t->model, &t->env, scratch);
	free(scratch);
	free(floats);
	return NULL;
}

/*
 * Two threads train one model in batches, on users of their own and five
 * items they share, under a memory cap that makes them evict and take the
 * lock exclusive meanwhile (copies are merged before a pause inside a
 * batch, and looked up again after evictions between batches): every step
 * is counted and the shared items keep finite values.  (Moves and frees
 * between batches are checked bit for bit, and under AddressSanitizer, in
 * test_round_outlives_relocations.)
 */
static void
test_batches_in_two_threads(void)
{
	Fixture		f;
	ModelConfig c = fm_config(23);
	pthread_t	threads[2];
	BatchTrainer trainers[2];
	bool		finite = true;

	fixture_init(&f, &c, 1);
	f.heap.cap = 1 << 21;
	for (int t = 0; t < 2; t++)
	{
		trainers[t] = (BatchTrainer) {&f.model, f.heap.env, t * 1000000, 0};
		trainers[t].env.view = f.heap.env.view ? calloc(1, sizeof(CuckooView)) : NULL;
		pthread_create(&threads[t], NULL, train_batches, &trainers[t]);
	}
	for (int t = 0; t < 2; t++)
	{
		pthread_join(threads[t], NULL);
		free(trainers[t].env.view);
	}
	for (int64_t item = 0; item < 5; item++)
	{
		CuckooEntry *e = ck_find(&f.model.table, &f.heap.env, featkey_int(1, item));
		const float *v = e != NULL ? CK_VALUE(e) : NULL;

		for (uint32_t j = 0; v != NULL && j < f.model.value_floats; j++)
			finite &= isfinite(v[j]);
		finite &= v != NULL;
	}
	CHECK(trainers[0].done + trainers[1].done == 80000, "every example went through");
	CHECK(f.model.examples == 80000, "every step was counted");
	CHECK(f.model.table.evicted > 0, "the cap evicted nothing");
	CHECK(finite, "the shared items are there, with finite values");
	fixture_free(&f);
}

/* Ships a part to the replica through the wire format, as a row of the published tables would. */
static void
ship_part(Model *replica, const CoreEnv *env, uint32_t round, SyncPartKind kind, uint32_t n,
		  const uint64_t *keys, const float *floats, uint32_t floats_per_key)
{
	size_t		bytes = sync_part_bytes(kind, n, floats_per_key);
	unsigned char *data = malloc(bytes);
	SyncPart	part;
	uint64_t	refused = 0;
	bool		applied = false;

	sync_encode(data, kind, n, floats_per_key, keys, floats);
	EXPECT(sync_decode(data, bytes, &part), "a part decodes");
	if (kind == SYNC_VALUES)
		applied = model_import_values(replica, env, round, &part, 1, &refused);
	else if (kind == SYNC_REMOVALS)
		applied = model_import_removals(replica, env, round, &part);
	else if (kind == SYNC_DENSE)
		applied = model_import_dense(replica, env, &part);
	else
		applied = model_import_purge(replica, env, round) || true;
	EXPECT(applied && refused == 0, "a part applied");
	free(data);
}

/*
 * Ships one round to the replica: cut, removals first, then the changed
 * keys' parameters collected in pieces, then the dense part, then release;
 * a round that lost removals (its log could not grow at the memory cap)
 * ships every key and a purge.  Returns whether it lost removals.
 */
static bool
ship_to_replica(Model *m, const CoreEnv *env, Model *replica, const CoreEnv *replica_env)
{
	uint64_t	keys[64];
	float		params[64 * (1 + DIM)];
	float		dense[1 + 64];
	CuckooRound round;
	uint32_t	cursor = 0;
	uint32_t	n;
	bool		more = true;

	while (!model_cut_changes(m, env))
		model_release_changes(m, env);
	EXPECT(model_cut_round(m, env, &round), "cut");
	for (uint32_t from = 0; (n = model_removed_keys(m, env, from, 64, keys)) > 0; from += n)
		ship_part(replica, replica_env, round.round, SYNC_REMOVALS, n, keys, NULL, 0);
	while (more)
	{
		n = model_collect_changes(m, env, &cursor, 64, keys, params, &more);
		ship_part(replica, replica_env, round.round, SYNC_VALUES, n, keys, params, 1 + DIM);
	}
	for (cursor = 0, more = round.removals_lost; more;)
	{
		n = model_collect_all(m, env, &cursor, 64, NULL, keys, params, &more);
		ship_part(replica, replica_env, round.round, SYNC_VALUES, n, keys, params, 1 + DIM);
	}
	if (round.removals_lost)
		ship_part(replica, replica_env, round.round, SYNC_PURGE, 0, NULL, NULL, 0);
	model_release_changes(m, env);
	model_export_dense(m, env, dense);
	ship_part(replica, replica_env, round.round, SYNC_DENSE, 0, NULL, dense, model_serving_dense_floats(m));
	return round.removals_lost;
}

typedef struct Comparison
{
	Model	   *trainer;
	const CoreEnv *env;
	uint64_t	mismatched;
} Comparison;

static void
compare_entry(void *arg, const CuckooEntry *e)
{
	Comparison *c = arg;
	CuckooEntry *t = ck_find(&c->trainer->table, c->env, e->key);
	const float *v = CK_VALUE(e);
	const float *w = t != NULL ? CK_VALUE(t) : NULL;

	c->mismatched += w == NULL || memcmp(&v[0], &w[0], sizeof(float)) != 0 ||
		memcmp(&v[c->trainer->embedding_at], &w[c->trainer->embedding_at], DIM * sizeof(float)) != 0;
}

/* Whether the replica holds exactly the trainer's keys, with its serving parameters and bias. */
static bool
replica_matches(Model *m, const CoreEnv *env, Model *replica, const CoreEnv *replica_env,
				uint64_t *mismatched)
{
	Comparison	c = {m, env, 0};

	ck_scan(&replica->table, replica_env, compare_entry, &c);
	*mismatched = c.mismatched;
	return c.mismatched == 0 && replica->table.live == m->table.live &&
		memcmp(&replica->bias[0], &m->bias[0], sizeof(float)) == 0;
}

/* Batches of sixteen users, each with one of five items, all repeating from batch to batch. */
static void
train_repeating_batches(Model *m, const CoreEnv *env, int n_batches)
{
	CuckooEntry *entries[8];
	float	   *floats = calloc(model_work_floats(&m->config), sizeof(float));
	void	   *scratch = calloc(1, model_batch_scratch_bytes(m));
	ModelWork	work = {entries, floats};
	float		numeric[1] = {0};
	uint64_t	keys[16][2];
	uint32_t	slot_end[16][SLOTS];
	Example		exs[16];
	double		labels[16];
	double		predictions[16];

	for (int b = 0; b < 16; b++)
	{
		keys[b][0] = featkey_int(0, 5000000 + b);
		keys[b][1] = featkey_int(1, b % 5);
		slot_end[b][0] = 1;
		slot_end[b][1] = 2;
		exs[b] = (Example) {keys[b], slot_end[b], numeric};
		labels[b] = b % 2;
	}
	for (int i = 0; i < n_batches; i++)
		model_train_batch(m, env, exs, labels, 16, 1, &work, scratch, predictions);
	model_train_flush(m, env, scratch);
	free(scratch);
	free(floats);
}

/* train_batches five times over. */
static void *
train_batches_five_times(void *arg)
{
	for (int i = 0; i < 5; i++)
		train_batches(arg);
	return NULL;
}

/*
 * A replica that applies every round in order ends with the trainer's
 * serving parameters, bit for bit: two threads train in batches (copies of
 * hot items merged across cuts, evictions at a memory cap) while rounds are
 * cut and shipped; then two more rounds.  A model that ships nothing keeps
 * learning the same.
 */
static void
test_replica_follows_rounds(void)
{
	Fixture		f;
	Fixture		r;
	ModelConfig c = fm_config(23);
	pthread_t	threads[2];
	BatchTrainer trainers[2];
	uint64_t	rounds = 0;
	uint64_t	lost = 0;
	uint64_t	mismatched;

	fixture_init(&f, &c, 1);
	fixture_init(&r, &c, 1);
	f.heap.cap = 1 << 21;
	for (int t = 0; t < 2; t++)
	{
		trainers[t] = (BatchTrainer) {&f.model, f.heap.env, t * 1000000, 0};
		pthread_create(&threads[t], NULL, train_batches_five_times, &trainers[t]);
	}
	while (__atomic_load_n(&f.model.examples, __ATOMIC_RELAXED) < 400000)
	{
		lost += ship_to_replica(&f.model, &f.heap.env, &r.model, &r.heap.env);
		rounds++;
		sched_yield();
	}
	for (int t = 0; t < 2; t++)
		pthread_join(threads[t], NULL);
	for (int i = 0; i < 2; i++)
		lost += ship_to_replica(&f.model, &f.heap.env, &r.model, &r.heap.env);
	CHECK(replica_matches(&f.model, &f.heap.env, &r.model, &r.heap.env, &mismatched),
		  "replica: %lu keys of %lu, %lu mismatched, after %lu rounds (%lu lost removals)",
		  (unsigned long) r.model.table.live, (unsigned long) f.model.table.live,
		  (unsigned long) mismatched, (unsigned long) rounds, (unsigned long) lost);
	CHECK(rounds > 10 && f.model.table.evicted > 0, "%lu rounds, %lu evicted", (unsigned long) rounds,
		  (unsigned long) f.model.table.evicted);

	/*
	 * Sixteen users and the items, all in the table and shipped, trained on
	 * again: each batch repeats them all, so every step is on a copy, and
	 * reaches the table, and the replica, only as a merge.
	 */
	f.heap.cap = 0;
	train_repeating_batches(&f.model, &f.heap.env, 1);
	ship_to_replica(&f.model, &f.heap.env, &r.model, &r.heap.env);
	train_repeating_batches(&f.model, &f.heap.env, 8);
	CHECK(!ship_to_replica(&f.model, &f.heap.env, &r.model, &r.heap.env), "no removals lost");
	CHECK(replica_matches(&f.model, &f.heap.env, &r.model, &r.heap.env, &mismatched),
		  "merged copies shipped: %lu mismatched", (unsigned long) mismatched);
	fixture_free(&r);
	fixture_free(&f);
}

int
main(void)
{
	test_learns();
	test_sparse_optimizers();
	test_reproducible();
	test_predict_is_read_only();
	test_predict_matches_training();
	test_unadmitted_contribute_nothing();
	test_probability_accuracy();
	test_fm_is_pairwise();
	test_pooling();
	test_gradient();
	test_tower_learns_numeric();
	test_hash_rows();
	test_negative_sampling_calibration();
	test_diverged_takes_no_step();
	test_batch_matches_single_steps();
	test_round_outlives_relocations();
	test_batches_in_two_threads();
	test_replica_follows_rounds();
	test_many_ids_in_pieces();
	test_expiry_by_slot();
	test_predict_unlocked_under_training();
	test_predict_unlocked_never_sees_writers();

	/*
	 * Prediction tests again on envs that read without the table lock when
	 * they can: the answers must be those made under it.
	 */
	unlocked_reads = true;
	unlocked_answers = 0;
	test_learns();
	test_predict_is_read_only();
	test_predict_matches_training();
	test_fm_is_pairwise();
	test_pooling();
	test_hash_rows();
	test_negative_sampling_calibration();
	CHECK(unlocked_answers > 0, "no prediction was made without the lock");
	return unit_finish("test_model");
}
