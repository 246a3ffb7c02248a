import type { OAuthConfig } from '../../config/oauth-config.js';
import { OidcProvider } from './oidc-client.js';
import { GitHubProvider, GoogleProvider } from './passport-providers.js';
import { callbackUrlFor, type ExternalProvider } from './providers.js';

/** The providers the configuration completes (a provider without its variables is simply not offered). */
export function providersFromConfig(config: OAuthConfig, publicUrl: string): ExternalProvider[] {
  const callbackUrl = (id: string) => callbackUrlFor(publicUrl, id);
  const providers: ExternalProvider[] = [];
  if (config.google) providers.push(new GoogleProvider(config.google, callbackUrl('google')));
  if (config.github) providers.push(new GitHubProvider(config.github, callbackUrl('github')));
  for (const oidc of config.oidc) providers.push(new OidcProvider(oidc));
  return providers;
}
