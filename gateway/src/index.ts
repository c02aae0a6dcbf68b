export { default as GatewayService } from "./gateway.service";
