# Helpers shared by the TAP tests of pg_guardrails.
#
# A test uses them with
#	use FindBin;
#	use lib $FindBin::RealBin;
#	use GrdTestUtil;

package GrdTestUtil;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use Time::HiRes qw(usleep);

our @EXPORT = qw(wait_for_restart);

# Wait, up to 60 s, until the node accepts a query again after a backend
# was killed and the postmaster reinitialised, and return whether it did.
#
# Not with poll_query_until: it writes its query to psql's standard input,
# and a psql refused while the server is still in recovery exits before
# reading it, which kills the test with a broken pipe.  psql -c reads
# nothing from us.
sub wait_for_restart
{
	my ($node, $dbname) = @_;
	$dbname //= 'postgres';

	for (1 .. 600)
	{
		my ($out, $err) = ('', '');
		return 1
		  if IPC::Run::run(
			[ 'psql', '-XAtq', '-d', $node->connstr($dbname),
			  '-c', 'SELECT true' ],
			'<', \undef, '>', \$out, '2>', \$err)
		  && $out =~ /^t/;
		usleep(100_000);
	}
	return 0;
}

1;
