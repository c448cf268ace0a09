-- monolith.auc(prediction, label): ROC AUC as an aggregate.
SELECT monolith.auc(p, y) AS perfect
  FROM (VALUES (0.9, true), (0.8, true), (0.3, false), (0.1, false)) v(p, y);
SELECT monolith.auc(p, y) AS reversed
  FROM (VALUES (0.1, true), (0.2, true), (0.3, false), (0.4, false)) v(p, y);
SELECT monolith.auc(p, y) AS all_tied
  FROM (VALUES (0.5, true), (0.5, false), (0.5, true), (0.5, false)) v(p, y);
-- positives 0.8, 0.4; negatives 0.4, 0.2: pairs won 1 + 1 + 0.5 + 1 of 4
SELECT monolith.auc(p, y) AS with_a_tie
  FROM (VALUES (0.8, true), (0.4, true), (0.4, false), (0.2, false)) v(p, y);
-- numeric labels weigh an example as that much positive
SELECT monolith.auc(p, y) AS fractional
  FROM (VALUES (0.9, 1.0::float8), (0.5, 0.5), (0.1, 0.0)) v(p, y);
-- rows with NULLs are skipped, as in other aggregates
SELECT monolith.auc(p, y) AS nulls_skipped
  FROM (VALUES (0.9, true), (NULL, false), (0.2, NULL), (0.1, false)) v(p, y);
-- undefined with one class only, or no rows
SELECT monolith.auc(p, y) IS NULL AS one_class
  FROM (VALUES (0.9, true), (0.2, true)) v(p, y);
SELECT monolith.auc(p, y) IS NULL AS no_rows
  FROM (VALUES (0.9, true)) v(p, y) WHERE false;
-- per group
SELECT g, monolith.auc(p, y)
  FROM (VALUES (1, 0.9, true), (1, 0.1, false), (2, 0.1, true), (2, 0.9, false)) v(g, p, y)
 GROUP BY g ORDER BY g;
