-- Review summaries as a two-job pipeline through Kafka: job 1 aggregates `reviews` into
-- 1-minute windows per product and writes them to the intermediate topic `review_windows`;
-- job 2 reads that topic and ML_PREDICT writes `review_summaries`, its four INPUT columns
-- joined by an input-template (../review_summary.sql is the llm() version over files).
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '5s';

CREATE TEMPORARY TABLE reviews (
  review_id STRING,
  product_id STRING,
  product_name STRING,
  rating INT,
  review_text STRING,
  ts AS TO_TIMESTAMP_LTZ(1767225600000 + CAST(SUBSTRING(review_id FROM 2) AS BIGINT) * 20000, 3),
  WATERMARK FOR ts AS ts
) WITH (
  'connector' = 'kafka',
  'topic' = 'reviews',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.group.id' = 'flinkllm-reviews-${KAFKA_RUN}',
  'scan.startup.mode' = 'earliest-offset',
  'properties.isolation.level' = 'read_committed',
  'scan.bounded.mode' = 'latest-offset',
  -- Typed fields and a watermark need the json format: a non-JSON review fails the job
  -- with the reason (nothing is dropped silently).
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
  'connector' = 'kafka',
  'topic' = 'review_windows',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.group.id' = 'flinkllm-review-windows-${KAFKA_RUN}',
  'scan.startup.mode' = 'earliest-offset',
  'properties.isolation.level' = 'read_committed',
  'scan.bounded.mode' = 'latest-offset',
  'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'flinkllm-review-windows-${KAFKA_RUN}',
  'properties.transaction.timeout.ms' = '900000'
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
  'connector' = 'kafka',
  'topic' = 'review_summaries',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'flinkllm-review-summaries-${KAFKA_RUN}',
  'properties.transaction.timeout.ms' = '900000'
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
