/** The CDK app (`cdk.json`): the only place in infra/ that reads the process environment. */
import { batonApp } from "./baton-app.ts";

batonApp(process.env);
