/**
 * The functions' VPC configuration for `serverless.yml` (`provider.vpc`), from the deploy-time
 * variables VPC_SUBNET_IDS and VPC_SECURITY_GROUP_IDS (comma-separated ids): both set, every
 * function runs in those private subnets with those security groups; neither set, nothing, so
 * that serverless.yml's `null` fallback leaves `VpcConfig` out of the template. One set
 * without the other is a mistake, refused. See docs/deploy.md.
 */
function ids(value) {
  return (value ?? "")
    .split(",")
    .map((id) => id.trim())
    .filter(Boolean);
}

module.exports.vpc = ({ env = process.env } = {}) => {
  const subnetIds = ids(env.VPC_SUBNET_IDS);
  const securityGroupIds = ids(env.VPC_SECURITY_GROUP_IDS);
  if (subnetIds.length === 0 && securityGroupIds.length === 0) return null;
  if (subnetIds.length === 0 || securityGroupIds.length === 0) {
    throw new Error("set both VPC_SUBNET_IDS and VPC_SECURITY_GROUP_IDS, or neither");
  }
  return { subnetIds, securityGroupIds };
};
