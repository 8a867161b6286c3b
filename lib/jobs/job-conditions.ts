import type { JobCondition } from "./job-store-types.ts";

/** A condition as a DynamoDB condition expression, its names and values added to the maps given. */
export function conditionExpression(
  condition: JobCondition,
  names: Record<string, string>,
  values: Record<string, unknown>,
): string {
  const conditions = ["attribute_exists(pk)"];
  if (condition.statusIn) {
    names["#status"] = "status";
    const keys = condition.statusIn.map((status, i) => {
      values[`:cs${i}`] = status;
      return `:cs${i}`;
    });
    conditions.push(`#status IN (${keys.join(", ")})`);
  }
  if (condition.leaseHeldBy !== undefined) {
    names["#leaseOwner"] = "leaseOwner";
    values[":cLeaseOwner"] = condition.leaseHeldBy;
    conditions.push("#leaseOwner = :cLeaseOwner");
  }
  if (condition.leaseFreeAt !== undefined) {
    names["#leaseUntil"] = "leaseUntil";
    values[":cLeaseFree"] = condition.leaseFreeAt;
    conditions.push("(attribute_not_exists(#leaseUntil) OR #leaseUntil < :cLeaseFree)");
  }
  if (condition.seqAtMost !== undefined) {
    names["#seq"] = "seq";
    values[":cSeq"] = condition.seqAtMost;
    conditions.push("#seq <= :cSeq");
  }
  if (condition.percentageBelow !== undefined) {
    names["#percentage"] = "percentage";
    values[":cPercentage"] = condition.percentageBelow;
    conditions.push("#percentage < :cPercentage");
  }
  return conditions.join(" AND ");
}
