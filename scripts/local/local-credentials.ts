/** Local clients use the credentials s3rver accepts; dynalite and fauxqs accept any, the local Secrets Manager these. */
export const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
