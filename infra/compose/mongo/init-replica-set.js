// Initiates the rs0 replica set (once) and the notification service's least-privilege user.
// Run with mongosh as the root user against mongo1; idempotent.
const members = ["mongo1:27017", "mongo2:27017", "mongo3:27017"];

let initiated = true;
try {
  rs.status();
} catch (error) {
  if (error.codeName !== "NotYetInitialized") throw error;
  initiated = false;
}
if (!initiated) {
  rs.initiate({ _id: "rs0", members: members.map((host, i) => ({ _id: i, host })) });
  print("replica set rs0 initiated");
}

for (let attempt = 0; attempt < 60; attempt++) {
  if (db.hello().isWritablePrimary) break;
  sleep(1000);
}
if (!db.hello().isWritablePrimary) throw new Error("no primary elected");

const notifications = db.getSiblingDB("notifications");
const password = process.env.NOTIFICATION_MONGO_PASSWORD;
if (!password) throw new Error("NOTIFICATION_MONGO_PASSWORD is not set");
if (notifications.getUser("notification") === null) {
  notifications.createUser({ user: "notification", pwd: password, roles: [{ role: "readWrite", db: "notifications" }] });
  print("user notification created");
} else {
  notifications.updateUser("notification", { pwd: password });
}
