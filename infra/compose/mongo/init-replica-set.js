// Initiates the rs0 replica set (once) and the notification service's least-privilege user.
// Run with mongosh as the root user against mongo1 (MONGO_ROOT_PASSWORD and
// NOTIFICATION_MONGO_PASSWORD in the environment); idempotent whichever member is primary.
const members = ["mongo1:27017", "mongo2:27017", "mongo3:27017"];

const rootPassword = process.env.MONGO_ROOT_PASSWORD;
if (!rootPassword) throw new Error("MONGO_ROOT_PASSWORD is not set");
const password = process.env.NOTIFICATION_MONGO_PASSWORD;
if (!password) throw new Error("NOTIFICATION_MONGO_PASSWORD is not set");

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

// After an election (a restart, rs.stepDown()) mongo1 is a secondary: wait for the set to have
// a primary, wherever it is, and write through a connection to the set, which sends writes there.
let primary;
for (let attempt = 0; attempt < 60 && !primary; attempt++) {
  primary = db.hello().primary;
  if (!primary) sleep(1000);
}
if (!primary) throw new Error("no primary elected");
print(`primary: ${primary}`);

const replicaSet = new Mongo(
  `mongodb://root:${encodeURIComponent(rootPassword)}@${members.join(",")}/` +
    "?replicaSet=rs0&authSource=admin&serverSelectionTimeoutMS=60000",
);
const notifications = replicaSet.getDB("notifications");
if (notifications.getUser("notification") === null) {
  notifications.createUser({ user: "notification", pwd: password, roles: [{ role: "readWrite", db: "notifications" }] });
  print("user notification created");
} else {
  notifications.updateUser("notification", { pwd: password });
}
