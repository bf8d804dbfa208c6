/**
 * Picks and builds the driver for `BRIDGE_PLATFORM`. Each driver is imported only when chosen, so
 * a local bridge never loads the Kubernetes client and a cluster bridge never needs dockerode.
 */
import { join } from "node:path";
import type { BridgeConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import type { DesktopDriver } from "./driver.ts";

export async function createDriver(config: BridgeConfig, log: Logger): Promise<DesktopDriver> {
  const driverLog = log.child({ component: `driver-${config.platform}` });
  switch (config.platform) {
    case "kubernetes": {
      const [{ KubeConfig }, { KubernetesDriver }] = await Promise.all([import("@kubernetes/client-node"), import("./kubernetes.ts")]);
      // In a pod this is the service account (KUBERNETES_SERVICE_HOST + the mounted token);
      // elsewhere $KUBECONFIG or ~/.kube/config.
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromDefault();
      // Without in-cluster credentials or a kubeconfig this silently falls back to localhost: say which API is used.
      driverLog.info("using the Kubernetes API", {
        server: kubeConfig.getCurrentCluster()?.server,
        namespace: config.kubernetes.namespace,
      });
      return new KubernetesDriver({ kubeConfig, settings: config.kubernetes, bridgeId: config.bridgeId, log: driverLog });
    }
    case "docker": {
      const { DockerDriver } = await import("./docker.ts");
      return new DockerDriver({ settings: config.docker, bridgeId: config.bridgeId, log: driverLog });
    }
    case "local": {
      const { LocalDriver } = await import("./local.ts");
      const driver = new LocalDriver({ settings: config.local, log: driverLog, stateFile: join(config.stateDir, "local-desktops.json") });
      await driver.cleanupOrphans();
      return driver;
    }
  }
}
