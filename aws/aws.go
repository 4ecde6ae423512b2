// Package aws is Bakehouse's adapter to Amazon EC2: the image look-ups a
// bake needs before Packer runs (a source AMI given by name, the AMI-name
// collision check, images by tag), made with aws-sdk-go-v2.
//
// Configuration is the SDK's standard one (config.LoadDefaultConfig): the
// AWS_* environment (AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, ...,
// AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL), the shared config and
// credentials files, SSO, web identity, and container or instance roles.
// Options can pin a region, a profile, static keys (rosco.yml's
// awsAccessKey/awsSecretKey) or an endpoint (tests point it at the ec2test
// double).
//
// Errors are *Error: the EC2 operation, region, error code and a hint for
// the operator. Credentials never appear in them, and the package logs
// nothing.
package aws

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/bakehouse/bakehouse"
)

// Options configure New. The zero value uses the SDK's defaults for all.
type Options struct {
	// Region is the region of calls that name none; default the SDK's
	// (AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
	Region string
	// Endpoint overrides the EC2 endpoint (ec2.Options.BaseEndpoint) for
	// every region, e.g. http://127.0.0.1:PORT for the ec2test double;
	// default AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL, the shared config's
	// endpoint_url, else EC2's regional endpoints.
	Endpoint string
	// Profile selects a shared config profile; default AWS_PROFILE, else
	// "default".
	Profile string
	// AccessKeyID and SecretAccessKey, when both are set, are static
	// credentials used instead of the SDK's credential chain.
	AccessKeyID     string
	SecretAccessKey string
	// HTTPClient replaces the SDK's HTTP client.
	HTTPClient awssdk.HTTPClient
	// MaxAttempts bounds the SDK's attempts per call (default 3).
	MaxAttempts int

	// pageSize is DescribeImages' MaxResults (default 1000).
	pageSize int32
}

// String describes o without its secret.
func (o Options) String() string {
	secret := ""
	if o.SecretAccessKey != "" {
		secret = "******"
	}
	return fmt.Sprintf("{Region:%s Endpoint:%s Profile:%s AccessKeyID:%s SecretAccessKey:%s MaxAttempts:%d}",
		o.Region, redactURL(o.Endpoint), o.Profile, o.AccessKeyID, secret, o.MaxAttempts)
}

// GoString keeps %#v from printing the secret too.
func (o Options) GoString() string { return "aws.Options" + o.String() }

// Client looks images up through EC2's DescribeImages.
type Client struct {
	ec2      *ec2.Client
	region   string
	endpoint string // the effective endpoint override, for hints ("" = AWS's)
	pageSize int32
}

// New loads the AWS configuration and returns a client. It makes no
// request: missing or refused credentials show in the first call's error.
func New(ctx context.Context, opts Options) (*Client, error) {
	var load []func(*config.LoadOptions) error
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.Profile != "" {
		load = append(load, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.AccessKeyID != "" && opts.SecretAccessKey != "" {
		load = append(load, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, "")))
	}
	if opts.HTTPClient != nil {
		load = append(load, config.WithHTTPClient(opts.HTTPClient))
	}
	if opts.MaxAttempts > 0 {
		load = append(load, config.WithRetryMaxAttempts(opts.MaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, &Error{Op: "load configuration", Err: err,
			Hint: "check AWS_PROFILE and the shared config and credentials files (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)"}
	}
	client := ec2.NewFromConfig(cfg, func(o *ec2.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = awssdk.String(opts.Endpoint)
		}
	})
	c := &Client{
		ec2:      client,
		region:   cfg.Region,
		endpoint: awssdk.ToString(client.Options().BaseEndpoint),
		pageSize: cmp.Or(opts.pageSize, 1000),
	}
	return c, nil
}

// Region is the region of calls that name none ("" when the configuration
// has none).
func (c *Client) Region() string { return c.region }

// Image is one AMI as DescribeImages describes it.
type Image struct {
	ID                 string
	Name               string
	Region             string
	OwnerID            string
	State              string // available, pending, failed, ...
	CreationDate       string // RFC 3339, as EC2 gives it
	Description        string
	VirtualizationType string // hvm, paravirtual
	Architecture       string
	Public             bool
	Tags               map[string]string
}

// amiID is an AMI id; anything else is a name (the root package's rule).
var amiID = regexp.MustCompile(`^ami-[a-z0-9]+$`)

// FindImages searches the images of region whose name matches name, as
// clouddriver's /aws/images/find does for Rosco: a name without glob
// characters (* ? [ \) matches as a substring ("*name*"), an AMI id finds
// that image. owners restricts the search to those owners (account ids,
// "self", "amazon", ...; none: every image the credentials can see). Only
// available images are returned, one NamedImage per image name, ordered
// as clouddriver orders them (where the name occurs, then by name), each
// with its AMIs newest first and the attributes of the newest; so
// bakehouse.SelectSourceAMI with mostRecent picks the newest match.
func (c *Client) FindImages(ctx context.Context, region, name string, owners []string) ([]bakehouse.NamedImage, error) {
	region, err := c.regionOr(region, "DescribeImages")
	if err != nil {
		return nil, err
	}
	q := strings.TrimSpace(name)
	if q == "" {
		return nil, &Error{Op: "DescribeImages", Region: region, Err: errors.New("no image name to search for"),
			Hint: "give base_ami (or the base image's sourceAmi) as an AMI id or an image name"}
	}
	input := &ec2.DescribeImagesInput{Owners: owners}
	if amiID.MatchString(q) {
		input.Filters = append(input.Filters, filter("image-id", q))
	} else {
		pattern := q
		if !strings.ContainsAny(q, `*?[\`) {
			pattern = "*" + q + "*"
		}
		input.Filters = append(input.Filters, filter("name", pattern))
	}
	input.Filters = append(input.Filters, filter("state", "available"))
	imgs, err := c.describe(ctx, region, input)
	if err != nil {
		return nil, err
	}
	byName := map[string][]Image{}
	for _, img := range imgs {
		byName[img.Name] = append(byName[img.Name], img)
	}
	out := make([]bakehouse.NamedImage, 0, len(byName))
	for n, group := range byName {
		slices.SortStableFunc(group, newestFirst)
		ids := make([]string, len(group))
		for i, img := range group {
			ids[i] = img.ID
		}
		out = append(out, bakehouse.NamedImage{
			ImageName: n,
			Attributes: bakehouse.ImageAttributes{
				CreationDate:       group[0].CreationDate,
				VirtualizationType: group[0].VirtualizationType,
			},
			AMIs: map[string][]string{region: ids},
		})
	}
	slices.SortFunc(out, func(a, b bakehouse.NamedImage) int {
		return cmp.Or(cmp.Compare(strings.Index(a.ImageName, q), strings.Index(b.ImageName, q)),
			strings.Compare(a.ImageName, b.ImageName))
	})
	return out, nil
}

// ImageFinder adapts FindImages to the root package's ImageFinder, for
// bakehouse.Lookups.FindImages. owners maps a bake request's account_name to
// the owners to search; nil (or a nil answer) searches every image the
// credentials can see. ctx bounds every look-up the finder makes.
func (c *Client) ImageFinder(ctx context.Context, owners func(account string) []string) bakehouse.ImageFinder {
	return func(name, region, account string) ([]bakehouse.NamedImage, error) {
		var o []string
		if owners != nil {
			o = owners(account)
		}
		return c.FindImages(ctx, region, name, o)
	}
}

// ImageByName returns the id of the image of the account (owner self)
// called exactly name in region: the pre-launch AMI-name collision check
// (Packer stops with "is used by an existing AMI" when there is one).
func (c *Client) ImageByName(ctx context.Context, region, name string) (id string, found bool, err error) {
	region, err = c.regionOr(region, "DescribeImages")
	if err != nil {
		return "", false, err
	}
	if name == "" {
		return "", false, &Error{Op: "DescribeImages", Region: region, Err: errors.New("no AMI name to check"),
			Hint: "the bake has no AMI name (ami_name or the generated image name)"}
	}
	imgs, err := c.describe(ctx, region, &ec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: []types.Filter{filter("name", literal(name))},
	})
	if err != nil {
		return "", false, err
	}
	for _, img := range imgs {
		if img.Name == name {
			return img.ID, true, nil
		}
	}
	return "", false, nil
}

// ImagesByTag returns the account's images (owner self) in region whose
// tag key has value (EC2 wildcards * and ? allowed), newest first: what a
// find-image-from-tags stage needs. Tags of images other accounts share
// are not visible to this account, so no other owner could match.
func (c *Client) ImagesByTag(ctx context.Context, region, key, value string) ([]Image, error) {
	region, err := c.regionOr(region, "DescribeImages")
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, &Error{Op: "DescribeImages", Region: region, Err: errors.New("no tag key"),
			Hint: "name the tag to search images by (e.g. appversion)"}
	}
	imgs, err := c.describe(ctx, region, &ec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: []types.Filter{filter("tag:"+key, value)},
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(imgs, newestFirst)
	return imgs, nil
}

// TaggedImages returns the images in region whose name contains name and
// that carry every tag of tags (values may use EC2's * and ? wildcards),
// newest first: clouddriver's /aws/images/find?q=name&tag:k=v as Orca's
// Find Image from Tags stage asks it. owners defaults to the account
// ("self").
func (c *Client) TaggedImages(ctx context.Context, region, name string, tags map[string]string, owners []string) ([]Image, error) {
	region, err := c.regionOr(region, "DescribeImages")
	if err != nil {
		return nil, err
	}
	if len(owners) == 0 {
		owners = []string{"self"}
	}
	in := &ec2.DescribeImagesInput{Owners: owners}
	if name != "" {
		in.Filters = append(in.Filters, filter("name", "*"+literal(name)+"*"))
	}
	keys := slices.Sorted(maps.Keys(tags))
	for _, k := range keys {
		in.Filters = append(in.Filters, filter("tag:"+k, tags[k]))
	}
	imgs, err := c.describe(ctx, region, in)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(imgs, newestFirst)
	return imgs, nil
}

// newestFirst orders images by creation date, newest first, then by id.
func newestFirst(a, b Image) int {
	return cmp.Or(strings.Compare(b.CreationDate, a.CreationDate), strings.Compare(a.ID, b.ID))
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: awssdk.String(name), Values: values}
}

// literal escapes EC2's filter wildcards so that s matches only itself.
func literal(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(s)
}

func (c *Client) regionOr(region, op string) (string, error) {
	if region == "" {
		region = c.region
	}
	if region == "" {
		return "", &Error{Op: op, Err: errors.New("no region"),
			Hint: "name the region in the bake request, or set AWS_REGION or the profile's region"}
	}
	return region, nil
}

// describe runs DescribeImages in region, following NextToken (with
// MaxResults when no ImageIds are given, as EC2 requires).
func (c *Client) describe(ctx context.Context, region string, input *ec2.DescribeImagesInput) ([]Image, error) {
	in := *input
	if len(in.ImageIds) == 0 {
		in.MaxResults = awssdk.Int32(c.pageSize)
	}
	inRegion := func(o *ec2.Options) { o.Region = region }
	var out []Image
	for {
		page, err := c.ec2.DescribeImages(ctx, &in, inRegion)
		if err != nil {
			return nil, c.wrap("DescribeImages", region, err)
		}
		for _, img := range page.Images {
			out = append(out, fromSDK(region, img))
		}
		if awssdk.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

func fromSDK(region string, img types.Image) Image {
	out := Image{
		ID:                 awssdk.ToString(img.ImageId),
		Name:               awssdk.ToString(img.Name),
		Region:             region,
		OwnerID:            awssdk.ToString(img.OwnerId),
		State:              string(img.State),
		CreationDate:       awssdk.ToString(img.CreationDate),
		Description:        awssdk.ToString(img.Description),
		VirtualizationType: string(img.VirtualizationType),
		Architecture:       string(img.Architecture),
		Public:             awssdk.ToBool(img.Public),
	}
	for _, t := range img.Tags {
		if out.Tags == nil {
			out.Tags = map[string]string{}
		}
		out.Tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
	}
	return out
}

// Error is a failed EC2 call.
type Error struct {
	Op     string // the EC2 operation, e.g. DescribeImages
	Region string
	// Code is EC2's error code (UnauthorizedOperation, ...); "" when no
	// answer came back (no credentials, endpoint unreachable, canceled).
	Code string
	// Hint tells the operator what to check.
	Hint string
	Err  error
}

func (e *Error) Error() string {
	where := ""
	if e.Region != "" {
		where = " in " + e.Region
	}
	return fmt.Sprintf("aws: EC2 %s%s: %v (hint: %s)", e.Op, where, e.Err, e.Hint)
}

func (e *Error) Unwrap() error { return e.Err }

// wrap turns an SDK error into an *Error with a hint.
func (c *Client) wrap(op, region string, err error) error {
	e := &Error{Op: op, Region: region, Err: err}
	var api smithy.APIError
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		e.Hint = "the look-up was canceled or timed out"
	case errors.As(err, &api):
		e.Code = api.ErrorCode()
		e.Hint = apiHint(e.Code, op, region)
	case strings.Contains(err.Error(), "get credentials") || strings.Contains(err.Error(), "get identity"):
		e.Hint = "no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, " +
			"or awsAccessKey/awsSecretKey in the aws: configuration, or run with an instance or task role"
	default:
		where := "EC2's endpoint for " + region
		if c.endpoint != "" {
			where = "the EC2 endpoint " + redactURL(c.endpoint)
		}
		e.Hint = "could not reach " + where + ": check the network, the region, and AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL"
	}
	return e
}

func apiHint(code, op, region string) string {
	switch code {
	case "UnauthorizedOperation", "AccessDenied", "AccessDeniedException":
		return fmt.Sprintf("the credentials lack permission for ec2:%s in %s: check the IAM policy of the user or role", op, region)
	case "AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken":
		return "AWS refused the credentials: check the access key and secret, the profile, and the clock"
	case "ExpiredToken", "RequestExpired":
		return "the credentials or the request expired: refresh the session (SSO login, role) or fix the clock"
	case "OptInRequired", "Blocked":
		return fmt.Sprintf("the account cannot use EC2 in %s: enable the region or the service for the account", region)
	case "RequestLimitExceeded", "Throttling", "ThrottlingException":
		return "EC2 throttled the requests even after retries: try again later or lower the bake concurrency"
	case "InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidAMIID.Unavailable":
		return "no such AMI in " + region + ": check the AMI id and the region"
	case "InvalidParameterValue", "InvalidParameterCombination", "InvalidFilter":
		return "EC2 rejected the search: check the image name, owners and tag"
	}
	if strings.HasPrefix(code, "InternalError") || code == "Unavailable" || code == "ServiceUnavailable" {
		return "EC2 failed on its side even after retries: try again later"
	}
	return "EC2 refused the request: see the error code and message"
}

// redactURL hides a password in a URL's user info.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
