// The unit tier runs without any emulator or database: the configuration only has to be valid.
// Nothing here is ever connected to; a test that reached for AWS or PostgreSQL would fail.
Object.assign(process.env, {
  JOBS_TABLE: "unit-jobs",
  BUCKET_NAME: "unit-files",
  DATABASE_HOST: "127.0.0.1",
  DATABASE_PORT: "1",
  DATABASE_NAME: "unit",
  DATABASE_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:unit-database-AbCdEf",
  DATABASE_TLS: "off",
  AWS_ENDPOINT_URL_SECRETS_MANAGER: "http://127.0.0.1:1",
  AWS_REGION: "us-east-1",
  AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:1",
  AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:1",
  AWS_ENDPOINT_URL_S3: "http://127.0.0.1:1",
  EXPORT_QUEUE_URL: "http://127.0.0.1:1/exports",
  IMPORT_QUEUE_URL: "http://127.0.0.1:1/imports",
  LOG_LEVEL: "CRITICAL",
  POWERTOOLS_METRICS_DISABLED: "true",
});
