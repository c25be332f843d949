// Starts GraphiQL on Interlib's own endpoint: queries and mutations over HTTP,
// subscriptions over graphql-ws on the same address. Served by the server with the
// assets it loads, so the page needs nothing beyond the server (and works behind a
// Content-Security-Policy of 'self').
(function () {
  var here = window.location;
  var socket = (here.protocol === 'https:' ? 'wss://' : 'ws://') + here.host + '/graphql';
  var fetcher = GraphiQL.createFetcher({ url: here.origin + '/graphql', subscriptionUrl: socket });
  var welcome = [
    '# Welcome to Interlib, the partner API of the librarians\' peer-mentoring network.',
    '#',
    '# Public programme facts (countries, rounds, associations) need no token.',
    '# Everything else does: open "Headers" below and add',
    '#   { "Authorization": "Bearer <your token>" }',
    '# (on a development server: cargo run -- token mint --role admin).',
    '#',
    '# The documentation of every type is behind the book icon on the left.',
    '',
    'query Programme {',
    '  rounds(first: 5) {',
    '    nodes { id name status applicationsOpenAt applicationCount }',
    '  }',
    '  countries(first: 5) {',
    '    totalCount',
    '    nodes { code name participantCount }',
    '  }',
    '}',
    ''
  ].join('\n');
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: welcome,
      defaultHeaders: '{}',
      defaultEditorToolsVisibility: 'headers'
    })
  );
})();
