-- Review summaries in two jobs, the second with CREATE MODEL + ML_PREDICT over several INPUT
-- columns joined by an input-template (see review_summary.sql for the llm() version).
-- Job 1: tumbling 1-minute windows per product: counts, average rating and all reviews of
--        the window as one context string (LISTAGG).
-- Job 2: reads job 1's output back (the same filesystem table) and the model turns each window's context into sentiment, strengths, complaints, a
--        summary and a recommended action.
-- The reviews carry no timestamp, so one is derived from the review id (20 s apart) to
-- give the event-time windows something to cut. Placeholders: see support_tickets.sql.
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '10s';

CREATE TEMPORARY TABLE reviews (
  review_id STRING,
  product_id STRING,
  product_name STRING,
  rating INT,
  review_text STRING,
  ts AS TO_TIMESTAMP_LTZ(1767225600000 + CAST(SUBSTRING(review_id FROM 2) AS BIGINT) * 20000, 3),
  WATERMARK FOR ts AS ts
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_DATA}/product_reviews.jsonl',
  'format' = 'json'
);

CREATE TEMPORARY TABLE review_windows (
  product_id STRING,
  product_name STRING,
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  review_count BIGINT,
  avg_rating DOUBLE,
  negative_reviews BIGINT,
  positive_reviews BIGINT,
  context STRING
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_OUT}/review_windows_ml_predict',
  'format' = 'json'
);

INSERT INTO review_windows
SELECT product_id, MAX(product_name), window_start, window_end, COUNT(*), AVG(CAST(rating AS DOUBLE)),
       SUM(CASE WHEN rating <= 2 THEN 1 ELSE 0 END), SUM(CASE WHEN rating >= 4 THEN 1 ELSE 0 END),
       LISTAGG(CONCAT('Rating: ', CAST(rating AS STRING), '. Review: ', review_text), ' | ')
FROM TABLE(TUMBLE(TABLE reviews, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY product_id, window_start, window_end;

CREATE TEMPORARY TABLE review_summaries (
  product_id STRING,
  product_name STRING,
  window_start TIMESTAMP(3),
  review_count BIGINT,
  avg_rating DOUBLE,
  sentiment STRING,
  key_strengths ARRAY<STRING>,
  key_complaints ARRAY<STRING>,
  summary STRING,
  recommended_action STRING,
  processed_at TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_OUT}/review_summaries_ml_predict',
  'format' = 'json'
);

CREATE TEMPORARY MODEL review_summary
INPUT (product_name STRING, review_count BIGINT, avg_rating DOUBLE, context STRING)
OUTPUT (
  sentiment STRING,
  key_strengths ARRAY<VARCHAR(60)>,
  key_complaints ARRAY<VARCHAR(60)>,
  summary VARCHAR(200),
  recommended_action VARCHAR(120)
) WITH (
  'provider' = 'flinkllm',
  'model' = 'qwen2.5-coder-1.5b-instruct-int8',
  'system-prompt-file' = 'review_summary.system.txt',
  'input-template' = 'Product: {product_name} ({review_count} reviews, average rating {avg_rating})
Reviews: {context}',
  'output.sentiment.enum' = 'positive, mixed, negative',
  'output.key_strengths.max-items' = '3',
  'output.key_complaints.max-items' = '3',
  'threads' = '2'
);

INSERT INTO review_summaries
SELECT product_id, product_name, window_start, review_count, avg_rating,
       sentiment, key_strengths, key_complaints, summary, recommended_action, CURRENT_TIMESTAMP
FROM ML_PREDICT(TABLE review_windows, MODEL review_summary, DESCRIPTOR(product_name, review_count, avg_rating, context));
