// dmgraph's GraphiQL bootstrap. It is a file, not an inline script, so the
// page's Content-Security-Policy can allow scripts from 'self' only.
(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  var url = new URL(root.dataset.endpoint, window.location.href);
  var subscriptionUrl = new URL(url.href);
  subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';

  // GraphiQL's fetcher sends the headers editor's JSON with every HTTP
  // request and, for subscriptions, merges it into the graphql-ws
  // connection_init payload, which is where the server reads
  // {"Authorization": "Bearer <token>"}.
  var fetcher = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: subscriptionUrl.href,
  });

  var defaultQuery = [
    '# Welcome to dmgraph.',
    '#',
    '# Sign in with the Login mutation below (or take a token',
    '# from `go run . demo`), then paste it into Headers:',
    '#',
    '#   {"Authorization": "Bearer <token>"}',
    '#',
    '# The same headers authenticate subscriptions.',
    '',
    'mutation Login {',
    '  login(input: {username: "alice", password: "password123"}) {',
    '    token',
    '  }',
    '}',
    '',
    'query Me {',
    '  me { id username displayName }',
    '}',
    '',
  ].join('\n');

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    })
  );
})();
